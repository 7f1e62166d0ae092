"""Per-residue / per-nucleotide tokenizer with modality tags, optional SentencePiece BPE."""

import base64
import io
import json
from pathlib import Path

import numpy as np
from deepbio.core.io import write_json

PROTEIN_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
NUCLEOTIDES = "ACGT"
SPECIAL_TOKENS = ("<pad>", "<cls>", "<eos>", "<mask>")
MODALITY_TAGS = {"protein": "<protein>", "DNA": "<DNA>", "RNA": "<RNA>"}


class MultiomicTokenizer:
    """Maps proteins, DNA and RNA to one shared vocabulary of token ids.

    Every residue and nucleotide is one token; protein residues and
    nucleotides have distinct ids (protein ``A`` is not DNA ``A``), as in
    OmniBioTE's single-character tokenizer. A sequence is wrapped as
    ``<tag> … <eos>`` with ``<tag>`` one of ``<protein>``, ``<DNA>``,
    ``<RNA>``; model inputs start with ``<cls>``, whose final embedding the
    regression head reads. RNA is written with T (U is accepted and mapped to
    T, as OmniBioTE does), so DNA and RNA share nucleotide tokens and differ
    by their tag.

    Vocabulary: ``<pad>`` = 0, ``<cls>``, ``<eos>``, ``<mask>``, the three
    tags, the 20 residues (upper-case strings), the 4 nucleotides
    (lower-case ``a c g t``), then the pieces of the optional SentencePiece
    models (protein first), which replace the single-character tokens of
    their modality.

    Args:
        protein_bpe: optional bytes, a serialized SentencePiece model for
            proteins (see `train_sentencepiece`).
        nucleic_acid_bpe: optional bytes, the same for nucleic acids.

    Raises:
        ValueError: (from the encoding methods) a sequence is empty, holds a
            character outside the 20 standard residues / A, C, G, T (U for
            RNA), or an unknown modality is asked for; the message names the
            record and the position.

    Example:
        >>> tok = MultiomicTokenizer()
        >>> ids = tok.encode_complex("MKV", "ACGT", "DNA")
        >>> tok.detokenize(ids)
        '<cls><protein>MKV<eos><DNA>acgt<eos>'

    References:
        OmniBioTE ``src/OmniTokenizer.py`` (github.com/nyuolab/OmniBioTE);
        Kudo & Richardson 2018, SentencePiece, arXiv:1808.06226.
    """

    def __init__(self, protein_bpe=None, nucleic_acid_bpe=None):
        self.protein_bpe = protein_bpe
        self.nucleic_acid_bpe = nucleic_acid_bpe
        vocabulary = list(SPECIAL_TOKENS) + list(MODALITY_TAGS.values()) + list(PROTEIN_RESIDUES) \
            + [n.lower() for n in NUCLEOTIDES]
        self._processors = {}
        self._offsets = {}
        for modality, model in (("protein", protein_bpe), ("nucleic_acid", nucleic_acid_bpe)):
            if model is None:
                continue
            import sentencepiece as spm

            processor = spm.SentencePieceProcessor(model_proto=model)
            self._processors[modality] = processor
            self._offsets[modality] = len(vocabulary)
            prefix = "p:" if modality == "protein" else "n:"
            vocabulary += [prefix + processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        self.vocabulary = vocabulary
        self._index = {token: i for i, token in enumerate(vocabulary)}

    # --- vocabulary -------------------------------------------------------------------------
    @property
    def vocabulary_size(self):
        """int: number of token ids."""
        return len(self.vocabulary)

    def token_to_id(self, token):
        """Id of a vocabulary string (KeyError when absent)."""
        return self._index[token]

    @property
    def pad_id(self):
        return self._index["<pad>"]

    @property
    def cls_id(self):
        return self._index["<cls>"]

    @property
    def eos_id(self):
        return self._index["<eos>"]

    @property
    def mask_id(self):
        return self._index["<mask>"]

    @property
    def tag_ids(self):
        """dict modality → id of its tag (``protein``, ``DNA``, ``RNA``)."""
        return {m: self._index[t] for m, t in MODALITY_TAGS.items()}

    @property
    def content_ids(self):
        """int32 array of the ids of residues, nucleotides and pieces (maskable tokens)."""
        first = len(SPECIAL_TOKENS) + len(MODALITY_TAGS)
        ids = np.arange(first, self.vocabulary_size, dtype=np.int32)
        unk = [self._offsets[m] + p.unk_id() for m, p in self._processors.items() if p.unk_id() >= 0]
        return np.setdiff1d(ids, np.asarray(unk, np.int32)).astype(np.int32)

    # --- encoding ---------------------------------------------------------------------------
    def _check(self, sequence, modality, name):
        label = f"{modality} sequence" + (f" {name!r}" if name is not None else "")
        if not isinstance(sequence, str) or not sequence:
            raise ValueError(f"{label} is empty")
        sequence = sequence.strip().upper()
        allowed = PROTEIN_RESIDUES if modality == "protein" else NUCLEOTIDES
        if modality == "RNA":
            sequence = sequence.replace("U", "T")
        for position, char in enumerate(sequence, 1):
            if char not in allowed:
                extra = " (or U for RNA)" if modality != "protein" else ""
                raise ValueError(f"{label} has non-standard {'residue' if modality == 'protein' else 'base'} "
                                 f"{char!r} at position {position}; only {allowed}{extra} are allowed")
        return sequence

    def _content(self, sequence, modality, name):
        sequence = self._check(sequence, modality, name)
        kind = "protein" if modality == "protein" else "nucleic_acid"
        if kind in self._processors:
            processor = self._processors[kind]
            pieces = processor.encode(sequence if kind == "protein" else sequence.lower(), out_type=int)
            if processor.unk_id() >= 0 and processor.unk_id() in pieces:
                raise ValueError(f"{modality} sequence {name!r} has characters the SentencePiece "
                                 "model does not know (train it on a corpus that contains them)")
            return [self._offsets[kind] + p for p in pieces]
        if kind == "protein":
            return [self._index[c] for c in sequence]
        return [self._index[c.lower()] for c in sequence]

    def tokenize(self, sequence, modality, name=None, max_length=None):
        """One segment: ``[<tag>] + tokens + [<eos>]``.

        Args:
            sequence: str.
            modality: ``"protein"``, ``"DNA"`` or ``"RNA"``.
            name: optional record name for error messages.
            max_length: optional int, keep at most this many content tokens
                (the first ones).

        Returns:
            list of int.
        """
        if modality not in MODALITY_TAGS:
            raise ValueError(f"unknown modality {modality!r} for {name!r}; expected one of "
                             f"{tuple(MODALITY_TAGS)}")
        content = self._content(sequence, modality, name)
        if max_length is not None:
            content = content[:max_length]
        return [self._index[MODALITY_TAGS[modality]]] + content + [self.eos_id]

    def encode_sequence(self, sequence, modality, name=None, max_length=None):
        """A single-sequence model input (masked-LM pre-training): ``<cls>`` + segment."""
        return [self.cls_id] + self.tokenize(sequence, modality, name, max_length)

    def encode_complex(self, protein, nucleic_acid, nucleic_acid_type, complementary=None,
                       name=None, max_protein_length=None):
        """A protein–nucleic-acid input: ``<cls>``, protein, strand, optional complementary strand.

        Args:
            protein: str, amino acids.
            nucleic_acid: str, the (first) strand.
            nucleic_acid_type: ``"DNA"`` or ``"RNA"``.
            complementary: optional str, the other strand (5'→3'), tagged like
                the first.
            name: optional record name for error messages.
            max_protein_length: optional int, residues kept (the first ones).

        Returns:
            list of int.
        """
        if nucleic_acid_type not in ("DNA", "RNA"):
            raise ValueError(f"record {name!r}: nucleic_acid_type must be 'DNA' or 'RNA', got "
                             f"{nucleic_acid_type!r}")
        ids = [self.cls_id] + self.tokenize(protein, "protein", name, max_protein_length)
        ids += self.tokenize(nucleic_acid, nucleic_acid_type, name)
        if complementary:
            ids += self.tokenize(complementary, nucleic_acid_type, name)
        return ids

    def pad(self, sequences, length=None):
        """Pads id lists to one length.

        Args:
            sequences: list of lists of int.
            length: optional int (default the longest); longer lists raise.

        Returns:
            ``(token_ids int32 (n, length), padding_mask bool (n, length))``.
        """
        longest = max((len(s) for s in sequences), default=0)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(f"a sequence has {longest} tokens, more than length={length}")
        ids = np.full((len(sequences), length), self.pad_id, np.int32)
        for i, s in enumerate(sequences):
            ids[i, :len(s)] = s
        return ids, ids != self.pad_id

    def detokenize(self, ids):
        """The vocabulary strings of ``ids`` joined (padding dropped)."""
        return "".join(self.vocabulary[int(i)] for i in ids if int(i) != self.pad_id)

    # --- persistence ------------------------------------------------------------------------
    def get_config(self):
        encode = lambda m: None if m is None else base64.b64encode(m).decode("ascii")
        return {"protein_bpe": encode(self.protein_bpe),
                "nucleic_acid_bpe": encode(self.nucleic_acid_bpe)}

    @classmethod
    def from_config(cls, config):
        decode = lambda m: None if m is None else base64.b64decode(m)
        return cls(decode(config.get("protein_bpe")), decode(config.get("nucleic_acid_bpe")))

    def save(self, path):
        """Writes the config as JSON (atomically)."""
        write_json({"class": "MultiomicTokenizer", **self.get_config(),
                    "vocabulary": self.vocabulary}, path)

    @classmethod
    def load(cls, path):
        """Reads a tokenizer written by `save` (FileNotFoundError / ValueError on bad files)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {path}")
        config = json.loads(path.read_text())
        if config.get("class") != "MultiomicTokenizer":
            raise ValueError(f"{path} is not a MultiomicTokenizer file")
        tokenizer = cls.from_config(config)
        if config.get("vocabulary") and config["vocabulary"] != tokenizer.vocabulary:
            raise ValueError(f"{path}: vocabulary differs from the one this version builds")
        return tokenizer


def train_sentencepiece(sequences, vocabulary_size, modality="protein"):
    """Trains a SentencePiece BPE model on a corpus of sequences.

    Args:
        sequences: iterable of str (validated like the tokenizer does).
        vocabulary_size: int, pieces in the model (including ``<unk>``).
        modality: ``"protein"`` or ``"nucleic_acid"`` (nucleotides are
            lower-cased, as the tokenizer feeds them).

    Returns:
        bytes, the serialized model for ``MultiomicTokenizer(protein_bpe=...)``
        or ``nucleic_acid_bpe=...``.
    """
    import sentencepiece as spm

    check = MultiomicTokenizer()._check
    kind = "protein" if modality == "protein" else "DNA"
    corpus = [check(s.replace("U", "T") if kind == "DNA" else s, kind, f"corpus record {i + 1}")
              for i, s in enumerate(sequences)]
    if kind == "DNA":
        corpus = [s.lower() for s in corpus]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocabulary_size,
        model_type="bpe", character_coverage=1.0, add_dummy_prefix=False, bos_id=-1, eos_id=-1,
        pad_id=-1, unk_id=0, max_sentence_length=1 << 16, split_by_whitespace=False,
        minloglevel=2)
    return model.getvalue()
