"""Contact examples as model inputs: token ids, which residues each token covers, token labels.

A complex is encoded the way the backbone's own tokenizer lays out a protein–nucleic-acid pair
(`MultiomicTokenizer.encode_complex`: ``<cls> <protein> P… <eos> <DNA> N… <eos>``; a converted
OmniBioTE tokenizer: ``<protein> P… <EOS> <DNA> N… <EOS>``, as upstream's
``evals/attn_to_contact_eval.py``). A BPE token may span several residues: its label is 1 when
any residue it covers is a contact (as upstream), and a token's prediction is given back to every
residue it covers for scoring (upstream's ``unprocess_sequence``).

Letters the tokenizers refuse are replaced and counted: an unknown amino acid (``X``) by ``G``,
an unknown nucleotide by ``A``. Proteins longer than ``max_protein`` residues and nucleic acids
longer than ``max_nucleic`` are cut to their first residues (the residues beyond are not scored).
"""

import dataclasses

import numpy as np

PROTEIN_LETTERS = set("ACDEFGHIKLMNPQRSTVWY")
NUCLEIC_LETTERS = set("ACGTU")


@dataclasses.dataclass
class EncodedExample:
    """One example as the backbone reads it.

    Attributes:
        token_ids: list of int (T,), the whole input.
        protein_tokens: int array (P,), positions in ``token_ids`` of the protein's tokens.
        protein_spans: int array (P,), residues each protein token covers.
        nucleic_tokens: int array (N,), positions of the nucleic acid's tokens.
        nucleic_spans: int array (N,), nucleotides each covers.
        residues: int, residues kept (sum of ``protein_spans``).
        nucleotides: int, nucleotides kept.
        replaced: int, letters replaced (unknown residues / nucleotides).
    """

    token_ids: list
    protein_tokens: np.ndarray
    protein_spans: np.ndarray
    nucleic_tokens: np.ndarray
    nucleic_spans: np.ndarray
    residues: int
    nucleotides: int
    replaced: int

    def token_labels(self, residue_labels):
        """Per protein token: 1 when any residue it covers is a contact. float32 (P,)."""
        ends = np.cumsum(self.protein_spans)
        starts = ends - self.protein_spans
        labels = np.asarray(residue_labels)[:self.residues]
        return np.asarray([labels[a:b].max() for a, b in zip(starts, ends)], np.float32)

    def residue_scores(self, token_scores):
        """Per-token scores spread back to residues, float32 (residues,)."""
        return np.repeat(np.asarray(token_scores, np.float32), self.protein_spans)

    def pair_scores(self, token_pair_scores):
        """Token × token scores (P, N) spread to residues × nucleotides."""
        rows = np.repeat(np.asarray(token_pair_scores, np.float32), self.protein_spans, axis=0)
        return np.repeat(rows, self.nucleic_spans, axis=1)


def _clean(sequence, allowed, substitute, limit):
    sequence = sequence[:limit].upper()
    cleaned = "".join(c if c in allowed else substitute for c in sequence)
    return cleaned, sum(c not in allowed for c in sequence)


def _piece_length(tokenizer, token, seq_type):
    inner = getattr(tokenizer, "tokenizer", None)
    text = inner.decode([token], seq_type) if inner is not None else tokenizer.detokenize([token])
    return len(text.replace("\u2581", "").strip())


def _content(tokenizer, sequence, modality, converted):
    segment = tokenizer.tokenize(sequence, modality)
    return segment[:-1] if converted and modality == "protein" else segment[1:-1]


def encode_example(tokenizer, example, converted=False, max_protein=1000, max_nucleic=200):
    """Encodes one `ContactExample`.

    Args:
        tokenizer: `MultiomicTokenizer` or `OmniBioTEInputs` (a converted checkpoint's).
        example: `ContactExample`.
        converted: bool, True for `OmniBioTEInputs`.
        max_protein: int, residues kept.
        max_nucleic: int, nucleotides kept.

    Returns:
        `EncodedExample`.

    Raises:
        ValueError: the tokens do not cover the sequence letter by letter (naming the example).
    """
    protein, bad_p = _clean(example.protein, PROTEIN_LETTERS, "G", max_protein)
    nucleic, bad_n = _clean(example.nucleic, NUCLEIC_LETTERS, "A", max_nucleic)
    ids = tokenizer.encode_complex(protein, nucleic, example.nucleic_kind, name=example.name)
    p_content = _content(tokenizer, protein, "protein", converted)
    n_segment = tokenizer.tokenize(nucleic, example.nucleic_kind)
    n_start = len(ids) - len(n_segment) + 1
    p_start = len(ids) - len(n_segment) - 1 - len(p_content)
    if list(ids[p_start:p_start + len(p_content)]) != list(p_content):
        raise ValueError(f"{example.name}: cannot locate the protein's tokens in the input")
    p_spans = np.asarray([_piece_length(tokenizer, t, "prot") for t in p_content], np.int64)
    n_content = ids[n_start:len(ids) - 1]
    n_spans = np.asarray([_piece_length(tokenizer, t, "nuc") for t in n_content], np.int64)
    if p_spans.sum() != len(protein) or n_spans.sum() != len(nucleic) or (p_spans < 1).any():
        raise ValueError(f"{example.name}: the tokens cover {p_spans.sum()} of {len(protein)} "
                         f"residues and {n_spans.sum()} of {len(nucleic)} nucleotides")
    return EncodedExample(list(ids), np.arange(p_start, p_start + len(p_content)), p_spans,
                          np.arange(n_start, len(ids) - 1), n_spans, len(protein), len(nucleic),
                          bad_p + bad_n)
