"""PDB text with known coordinates for the contact tests (fixed-column ATOM / HETATM records)."""


def atom_line(serial, name, resname, chain, resseq, xyz, element, altloc=" ", occupancy=1.0,
              record="ATOM", icode=" "):
    """One ATOM/HETATM record in the PDB's fixed columns."""
    label = f" {name:<3}" if len(name) < 4 else name
    x, y, z = xyz
    return (f"{record:<6}{serial:5d} {label}{altloc}{resname:>3} {chain}{resseq:4d}{icode}   "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{occupancy:6.2f}{20.0:6.2f}          {element:>2}")


# Protein chain A: ALA 1, MSE 2 (HETATM, selenomethionine), GLY 3 (CA in two alternate
# locations), a gap, LYS 7; a zinc ion and a water; DNA chain B: DA 1, DT 2.
# Closest nucleotide heavy atom of each residue: 4.0, 7.5, 3.0, 30.0 Å.
PROTEIN_DNA = [
    ("N", "ALA", "A", 1, (0, 5, 0), "N"), ("CA", "ALA", "A", 1, (0, 6, 0), "C"),
    ("C", "ALA", "A", 1, (0, 7, 0), "C"), ("O", "ALA", "A", 1, (1, 7, 0), "O"),
    ("CB", "ALA", "A", 1, (0, 4, 0), "C"), ("H", "ALA", "A", 1, (0, 1, 0), "H"),
    ("N", "MSE", "A", 2, (0, 7.5, 0), "N", " ", 1.0, "HETATM"),
    ("CA", "MSE", "A", 2, (0, 9, 0), "C", " ", 1.0, "HETATM"),
    ("C", "MSE", "A", 2, (0, 10, 0), "C", " ", 1.0, "HETATM"),
    ("SE", "MSE", "A", 2, (1, 9, 0), "SE", " ", 1.0, "HETATM"),
    ("N", "GLY", "A", 3, (0, 11, 0), "N"),
    ("CA", "GLY", "A", 3, (20, 3, 0), "C", "A", 0.6),
    ("CA", "GLY", "A", 3, (20, 9, 0), "C", "B", 0.4),
    ("C", "GLY", "A", 3, (0, 12, 0), "C"),
    ("N", "LYS", "A", 7, (0, 30, 0), "N"), ("CA", "LYS", "A", 7, (0, 31, 0), "C"),
    ("ZN", "ZN", "A", 100, (0, 0, 2), "ZN", " ", 1.0, "HETATM"),
    ("O", "HOH", "A", 201, (0, 2, 0), "O", " ", 1.0, "HETATM"),
    ("P", "DA", "B", 1, (0, 0, 0), "P"), ("C1'", "DA", "B", 1, (0, 0, 1.5), "C"),
    ("O3'", "DA", "B", 1, (18.5, 0, 0), "O"), ("H1'", "DA", "B", 1, (0, 4.5, 0), "H"),
    ("P", "DT", "B", 2, (20, 0, 0), "P"), ("C1'", "DT", "B", 2, (21, 0, 0), "C"),
]
PROTEIN_DNA_DISTANCES = [4.0, 7.5, 3.0, 30.0]

# Protein chain P (SER 1) beside RNA chain R: A 1, PSU 2 (pseudouridine, HETATM), U 3.
PROTEIN_RNA = [
    ("N", "SER", "P", 1, (0, 6, 0), "N"), ("CA", "SER", "P", 1, (0, 7, 0), "C"),
    ("OG", "SER", "P", 1, (0, 5, 0), "O"),
    ("P", "A", "R", 1, (0, 0, 0), "P"), ("O2'", "A", "R", 1, (1, 0, 0), "O"),
    ("O3'", "A", "R", 1, (2, 0, 0), "O"),
    ("P", "PSU", "R", 2, (3, 0, 0), "P", " ", 1.0, "HETATM"),
    ("O2'", "PSU", "R", 2, (4, 0, 0), "O", " ", 1.0, "HETATM"),
    ("O3'", "PSU", "R", 2, (5, 0, 0), "O", " ", 1.0, "HETATM"),
    ("P", "U", "R", 3, (6, 0, 0), "P"), ("O2'", "U", "R", 3, (7, 0, 0), "O"),
]


def pdb_text(atoms):
    """PDB text of ``atoms``: tuples (name, resname, chain, resseq, xyz, element[, altloc,
    occupancy, record])."""
    lines = [atom_line(i, *atom[:3], atom[3], atom[4], atom[5], *atom[6:])
             for i, atom in enumerate(atoms, 1)]
    return "\n".join(lines + ["END", ""])


def write_pdb(path, atoms):
    """Writes ``atoms`` as a PDB file; returns ``path``."""
    path.write_text(pdb_text(atoms))
    return path
