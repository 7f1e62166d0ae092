"""Dinucleotide-preserving shuffles (Altschul & Erickson 1985).

A shuffled copy of a sequence that keeps every dinucleotide count (hence
every mononucleotide count, the first and the last letter) is a random
Eulerian walk through the sequence's letter-transition multigraph. The
algorithm of Altschul & Erickson (1985), "Significance of nucleotide sequence
alignments: a method for random sequence permutation that preserves
dinucleotide and codon usage", Mol. Biol. Evol. 2:526, as used by
``fasta-shuffle-letters -kmer 2`` (MEME suite) and uShuffle:

1. draw, for every letter but the last one of the sequence, the last edge
   leaving it, at random, until these edges form a tree rooted at the last
   letter (every letter's chain of last edges reaches it);
2. shuffle each letter's remaining out-edges uniformly;
3. walk from the first letter, taking each letter's edges in that order and
   its last edge last.

Every Eulerian walk with the sequence's first letter is drawn with equal
probability. Any letters are allowed (``N`` is a letter like the others).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["dinucleotide_shuffle", "dinucleotide_shuffles"]


def _reaches_root(last_edge, root):
    """True if following ``last_edge`` from every letter ends at ``root``."""
    for start in last_edge:
        seen, node = set(), start
        while node != root:
            if node in seen:
                return False
            seen.add(node)
            node = last_edge[node]
    return True


def dinucleotide_shuffle(sequence: str, rng=None) -> str:
    """Shuffle one sequence keeping its dinucleotide counts.

    Args:
        sequence: str of any letters (case is kept: ``a`` and ``A`` are
            different letters; upper-case first for case-insensitive counts).
        rng: `numpy.random.Generator`, int seed or None.

    Returns:
        str of the same length, first and last letter, and the same count of
        every dinucleotide (overlapping pairs).

    Raises:
        TypeError: ``sequence`` is not a str.

    Example:
        >>> s = dinucleotide_shuffle("ACGTACGGTACCA", rng=0)
        >>> sorted(s[i:i + 2] for i in range(12)) == sorted("ACGTACGGTACCA"[i:i + 2] for i in range(12))
        True
    """
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a str, got {type(sequence).__name__}")
    rng = np.random.default_rng(rng)
    if len(sequence) <= 2:
        return sequence
    edges = {}
    for a, b in zip(sequence[:-1], sequence[1:]):
        edges.setdefault(a, []).append(b)
    root = sequence[-1]
    while True:
        last_index = {v: int(rng.integers(len(out))) for v, out in edges.items() if v != root}
        last_edge = {v: edges[v][i] for v, i in last_index.items()}
        if _reaches_root(last_edge, root):
            break
    order = {}
    for v, out in edges.items():
        rest = list(out)
        last = rest.pop(last_index[v]) if v != root else None
        rest = [rest[i] for i in rng.permutation(len(rest))]
        if last is not None:
            rest.append(last)
        order[v] = rest[::-1]  # pop() from the end walks the list in order
    walk = [sequence[0]]
    for _ in range(len(sequence) - 1):
        walk.append(order[walk[-1]].pop())
    return "".join(walk)


def dinucleotide_shuffles(sequences: Iterable[str], random_state=None, n_copies: int = 1) -> list:
    """Dinucleotide-shuffled copies of many sequences (e.g. as a background).

    Args:
        sequences: iterable of n str.
        random_state: int, `numpy.random.Generator` or None; one generator
            drives all shuffles, so a seed makes the output reproducible.
        n_copies: int >= 1. Shuffled copies per sequence.

    Returns:
        list of ``n * n_copies`` str: the copies of sequence 0 first, then
        those of sequence 1, ...

    Raises:
        ValueError: ``n_copies`` < 1.
        TypeError: a record is not a str (the message gives its index).
    """
    if n_copies < 1:
        raise ValueError(f"n_copies must be >= 1, got {n_copies}")
    rng = np.random.default_rng(random_state)
    out = []
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise TypeError(f"record {i}: expected a str, got {type(seq).__name__}")
        out.extend(dinucleotide_shuffle(seq, rng) for _ in range(n_copies))
    return out
