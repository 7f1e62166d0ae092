"""OmniBioTE's own tokenizers (per-residue or two SentencePiece BPE models), id for id."""

import json
import re
from pathlib import Path
from deepbio.core.io import atomic_path

UNKNOWN_ID = 0
PAD_ID = 1
MASK_ID = 2
EOS_ID = 3
NUCLEOTIDE_VOCABULARY = {
    "A": 4, "T": 5, "C": 6, "G": 7, "N": 8,
    "<DNA>": 9, "<mRNA>": 10, "<RNA>": 11, "<rRNA>": 12, "<tRNA>": 13, "<cRNA>": 14,
    "<ss-RNA>": 15, "<ss-DNA>": 16, "<ds-mRNA>": 17, "<ds-rRNA>": 18, "<ds-RNA>": 19,
    "<ms-DNA>": 20, "<ms-RNA>": 21, "<ds-cRNA>": 22, "<EOS>": EOS_ID,
}
PROTEIN_VOCABULARY = {residue: 23 + i for i, residue in enumerate("ARNDCQEGHILKMFPSTWYVBZXUO")}
PROTEIN_VOCABULARY.update({"<protein>": 48, "<EOS>": EOS_ID})
CHAR_VOCABULARY_SIZE = 49
NUCLEIC_ACID_TAGS = tuple(tag for tag in NUCLEOTIDE_VOCABULARY if tag.startswith("<")
                          and tag != "<EOS>")

BPE_FILES = {"nuc": "genbank-2k.model", "prot": "uniref-2k.model"}
BPE_BANNED_IDS = {"nuc": (1, 2, 2037), "prot": (1, 2, 2044)}
BPE_OFFSETS = {"nuc": 0, "prot": 2048}
BPE_VOCABULARY_SIZE = 4096
# Upstream ships the two SentencePiece models beside its code (``tokenizers/`` of
# github.com/nyuolab/OmniBioTE) and its weights on the Hugging Face hub; override with base_url.
DEFAULT_BASE_URL = "https://huggingface.co/WeiHua/OmniBioTE/resolve/main/"
SEQ_TYPES = ("nuc", "prot")

_TOKEN_PATTERN = re.compile(r"<[^>]*>|.")


class OmniBioTETokenizer:
    """Text to token ids exactly as OmniBioTE's ``OmniTokenizer`` does.

    Two modes, matching the two families of published checkpoints:

    - ``"char"`` (vocabulary 49): every ``<tag>`` or single character is
      one token, looked up in the table of its sequence type (``"nuc"`` or
      ``"prot"``); anything else, lower case included, is ``<UNK>`` = 0.
      ``<EOS>`` = 3 in both; nucleotides A 4, T 5, C 6, G 7, N 8; the
      nucleic-acid tags ``<DNA>`` 9 … ``<ds-cRNA>`` 22; residues 23–47 in
      the order ``ARNDCQEGHILKMFPSTWYVBZXUO``; ``<protein>`` 48. Ids 1 and
      2 (upstream's padding and mask) never come out of the tokenizer.
      RNA is written with T (upstream's convention; ``U`` is ``<UNK>`` in
      the nucleotide table).
    - ``"bpe"`` (vocabulary 4096): two SentencePiece models,
      ``genbank-2k.model`` for nucleic acids at ids 0–2047 and
      ``uniref-2k.model`` for proteins at 2048–4095; the raw pieces 1, 2
      and 2037 (nucleic acids) / 1, 2 and 2044 (proteins) are dropped
      before the offset is added.

    Args:
        mode: ``"char"`` or ``"bpe"``.
        nucleotide_model: ``"bpe"`` only: path of ``genbank-2k.model``;
            None downloads it from ``base_url`` (`keras.utils.get_file`,
            cached under ``~/.keras``).
        protein_model: ``"bpe"`` only: path of ``uniref-2k.model``, or None.
        base_url: str, where missing SentencePiece models are fetched.

    Raises:
        ValueError: an unknown mode or sequence type.
        FileNotFoundError: a SentencePiece model path that does not exist.

    Example:
        >>> tok = OmniBioTETokenizer("char")
        >>> tok.encode("<protein>MK<EOS>", "prot")
        [48, 35, 34, 3]

    References:
        OmniBioTE ``src/OmniTokenizer.py`` and
        ``src/train_encoder_single-char.py`` (MIT,
        github.com/nyuolab/OmniBioTE); Chen et al. 2024, arXiv:2408.16245.
    """

    def __init__(self, mode="char", nucleotide_model=None, protein_model=None,
                 base_url=DEFAULT_BASE_URL):
        if mode not in ("char", "bpe"):
            raise ValueError(f"mode must be 'char' or 'bpe', got {mode!r}")
        self.mode = mode
        self.base_url = base_url
        self.model_paths = {"nuc": nucleotide_model, "prot": protein_model}
        self._processors = {}
        if mode == "bpe":
            for seq_type in SEQ_TYPES:
                self._processors[seq_type] = self._load_processor(seq_type)

    def _load_processor(self, seq_type):
        import sentencepiece as spm

        path = self.model_paths[seq_type]
        if path is None:
            import keras

            path = keras.utils.get_file(BPE_FILES[seq_type], self.base_url + BPE_FILES[seq_type],
                                        cache_subdir="omnibiote")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"SentencePiece model not found: {path}")
        self.model_paths[seq_type] = str(path)
        return spm.SentencePieceProcessor(model_file=str(path))

    @property
    def vocabulary_size(self):
        """int: 49 (``"char"``) or 4096 (``"bpe"``), the embedding rows of the checkpoints."""
        return CHAR_VOCABULARY_SIZE if self.mode == "char" else BPE_VOCABULARY_SIZE

    @staticmethod
    def _check(seq_type):
        if seq_type not in SEQ_TYPES:
            raise ValueError(f"seq_type must be 'nuc' or 'prot', got {seq_type!r}")

    def encode(self, text, seq_type):
        """Token ids of ``text`` (tags included, e.g. ``"<DNA>ACGT<EOS>"``).

        Args:
            text: str.
            seq_type: ``"nuc"`` or ``"prot"``.

        Returns:
            list of int.

        Raises:
            ValueError: an unknown ``seq_type``.
        """
        self._check(seq_type)
        if self.mode == "char":
            table = NUCLEOTIDE_VOCABULARY if seq_type == "nuc" else PROTEIN_VOCABULARY
            return [table.get(token, UNKNOWN_ID) for token in _TOKEN_PATTERN.findall(text)]
        banned = BPE_BANNED_IDS[seq_type]
        offset = BPE_OFFSETS[seq_type]
        return [i + offset for i in self._processors[seq_type].EncodeAsIds(text)
                if i not in banned]

    def decode(self, ids, seq_type):
        """Text of token ids of one sequence type (ids of no token are skipped in ``"char"``).

        Raises:
            ValueError: an unknown ``seq_type``.
        """
        self._check(seq_type)
        ids = [int(i) for i in ids]
        if self.mode == "char":
            table = NUCLEOTIDE_VOCABULARY if seq_type == "nuc" else PROTEIN_VOCABULARY
            inverse = {v: k for k, v in table.items()}
            return "".join(inverse[i] for i in ids if i in inverse)
        return self._processors[seq_type].DecodeIds([i - BPE_OFFSETS[seq_type] for i in ids])

    def encode_binding(self, protein, nucleic_acid, tag="<DNA>", second_strand=None):
        """The ΔG model's input: ``<protein>P<EOS>`` then ``<tag>N<EOS>[S<EOS>]``.

        The layout of OmniBioTE's README for ``omnibinder``: the protein
        first (token 0 is ``<protein>``, whose embedding the head reads),
        then the nucleic acid; a double strand appends the other strand
        (5'→3') with its own ``<EOS>``.

        Args:
            protein: str, residues without tags.
            nucleic_acid: str, nucleotides (T for U) without tags.
            tag: one of `NUCLEIC_ACID_TAGS`.
            second_strand: optional str.

        Returns:
            list of int.

        Raises:
            ValueError: an unknown tag.
        """
        if tag not in NUCLEIC_ACID_TAGS:
            raise ValueError(f"tag must be one of {NUCLEIC_ACID_TAGS}, got {tag!r}")
        nucleic = f"{tag}{nucleic_acid}<EOS>" + (f"{second_strand}<EOS>" if second_strand else "")
        return self.encode(f"<protein>{protein}<EOS>", "prot") + self.encode(nucleic, "nuc")

    def get_config(self):
        """JSON-able constructor arguments (model paths as given or resolved)."""
        return {"mode": self.mode, "nucleotide_model": self.model_paths["nuc"],
                "protein_model": self.model_paths["prot"], "base_url": self.base_url}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save(self, path):
        """Writes ``get_config()`` (plus the vocabulary facts) as JSON, atomically."""
        write_tokenizer_config(path, **self.get_config())

    @classmethod
    def load(cls, path):
        """A tokenizer from a `save` file.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a tokenizer configuration.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer configuration not found: {path}")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON: {error}") from error
        if not isinstance(config, dict) or config.get("mode") not in ("char", "bpe"):
            raise ValueError(f"{path} is not an OmniBioTE tokenizer configuration (no 'mode' "
                             "of 'char' or 'bpe')")
        keys = ("mode", "nucleotide_model", "protein_model", "base_url")
        return cls(**{k: config[k] for k in keys if k in config})


def write_tokenizer_config(path, mode, nucleotide_model=None, protein_model=None,
                           base_url=DEFAULT_BASE_URL):
    """Writes a configuration `OmniBioTETokenizer.load` reads, without loading any model.

    Args:
        path: destination ``.json`` (written atomically).
        mode: ``"char"`` or ``"bpe"``.
        nucleotide_model, protein_model: optional SentencePiece paths
            (``"bpe"``; None fetches them from ``base_url`` when loaded).
        base_url: str.

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in ("char", "bpe"):
        raise ValueError(f"mode must be 'char' or 'bpe', got {mode!r}")
    config = {"mode": mode, "nucleotide_model": nucleotide_model, "protein_model": protein_model,
              "base_url": base_url,
              "vocabulary_size": CHAR_VOCABULARY_SIZE if mode == "char" else BPE_VOCABULARY_SIZE}
    if mode == "bpe":
        config.update(files=dict(BPE_FILES), offsets=dict(BPE_OFFSETS),
                      banned_ids={k: list(v) for k, v in BPE_BANNED_IDS.items()})
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(config, indent=2, allow_nan=False) + "\n")
