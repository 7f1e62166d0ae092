"""Motif autonomy and context synergy (DeepASMM), with a fast perturbation engine.

Reimplements the scoring of DeepASMM (Li et al., "DeepASMM: Decoding
Cis-Regulatory Mechanisms via Quantification of Motif Autonomy and Contextual
Synergy", https://github.com/Jie-Lii/DeepASMM, commit 0f35ebb):

* every k-mer (without ``N``) with at least ``min_count`` occurrences in the
  sequences is located (:func:`locate_kmers`);
* **sequence-context synergy** (SCS) of one occurrence: zero the k one-hot
  rows of the occurrence in its native sequence (all-zero rows, the encoding
  of ``N``) and compare the prediction with the native one;
* **autonomous functionality** (AF) of one occurrence: put the k-mer at the
  same position of an all-zero sequence and compare with the prediction of
  the all-zero sequence;
* the score of one perturbation is ``Σ_outputs |(y_ref − y_pert) / (y_ref +
  1e-8)|`` on the model with its last activation made linear (upstream's
  ``tf_model_loder`` sets ``model.layers[-1].activation = linear``);
* per motif, the mean over the top-r fraction of its occurrences (or all of
  them), and the combined scores ``minmax(count) × minmax(score)``
  (:func:`aggregate_scores`, :func:`combine_scores`).

Two engines compute the per-occurrence scores and agree to float round-off:

* :class:`NaiveMotifScorer`, the reference: follows upstream literally, one
  full perturbed sequence per row through ``model.predict``, no reuse;
* :class:`MotifScorer`, the fast engine: one compiled function; AF
  perturbations deduplicated by (k-mer, position); and, as fastISM (Nair et
  al. 2022, "fastISM: performant in silico saturation mutagenesis for
  convolutional neural networks", Bioinformatics 38:2397) exploits, the
  convolutional stem of the model is recomputed only on the window of each
  layer that a perturbation changes, spliced into the cached activations of
  the unperturbed sequence; memory is bounded by processing the sequences in
  blocks.

Deviations from upstream, on purpose (each one is a bug there):

* upstream's SCS compares each perturbation with the *perturbed* prediction
  of the row whose index is the sequence index
  (``ori_result[motif_pos[0]]`` with ``ori_result`` the perturbed batch);
  here ``y_ref`` is the native prediction of the occurrence's sequence;
* upstream's SCS "top r" takes the first occurrences in scanning order
  without sorting them (its AF sorts); here both take the highest scores.

Kept from upstream: the 1e-8 in the denominator, and the top-r divisor: with
``n = floor(count × r)`` if that is ≥ ``min_top_r_num`` else
``min_top_r_num``, the motif score is the sum of its ``n`` highest scores
divided by ``n`` even when the motif has fewer than ``n`` occurrences (the
missing ones count as 0).
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np
import pandas as pd
from keras import ops
from tqdm.auto import tqdm

import Feature_extraction_algorithms as fea

__all__ = [
    "KmerOccurrences",
    "check_sequences",
    "locate_kmers",
    "linear_output_model",
    "NaiveMotifScorer",
    "MotifScorer",
    "aggregate_scores",
    "combine_scores",
    "score_motifs",
    "SCORE_COLUMNS",
]

SCORE_COLUMNS = ("motif", "count", "af_score", "scs_score", "autonomous_functionality_score",
                 "sequence_context_synergy_score")
EPSILON = 1e-8  # upstream's guard in (y_ref - y) / (y_ref + 1e-8)

_CODES = np.full(256, 255, dtype=np.uint8)
for _i, _letters in enumerate(("Aa", "Cc", "Gg", "TtUu")):
    for _c in _letters:
        _CODES[ord(_c)] = _i
_CODES[ord("N")] = _CODES[ord("n")] = 4


@dataclasses.dataclass(frozen=True)
class KmerOccurrences:
    """Where each retained k-mer occurs.

    Motifs are listed in order of first appearance (sequence, then position),
    as upstream; occurrences are grouped by motif, then in scanning order.

    Attributes:
        k: int. Motif length.
        kmers: (m,) str array, the retained k-mers.
        counts: (m,) int64, occurrences of each (overlapping ones included).
        motif_index: (n_occ,) int64, index into ``kmers`` of each occurrence.
        sequence_index: (n_occ,) int64, the sequence of each occurrence.
        position: (n_occ,) int64, its 0-based start.
    """

    k: int
    kmers: np.ndarray
    counts: np.ndarray
    motif_index: np.ndarray
    sequence_index: np.ndarray
    position: np.ndarray

    def __len__(self):
        return len(self.motif_index)

    def one_hot_kmers(self):
        """float32 (m, k, 4): one-hot of every retained k-mer."""
        return fea.one_hot(list(self.kmers), alphabet="dna") if len(self.kmers) else \
            np.zeros((0, self.k, 4), np.float32)


def _sequence_codes(sequences, ids=None):
    """uint8 (n, L) codes A0 C1 G2 T3 N4 of equal-length DNA sequences."""
    if isinstance(sequences, str):
        sequences = [sequences]
    sequences = list(sequences)
    if not sequences:
        raise ValueError("no sequences given")
    names = [str(i) if ids is None else repr(ids[i]) for i in range(len(sequences))]
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise TypeError(f"record {names[i]}: expected a str, got {type(seq).__name__}")
    length = len(sequences[0])
    for i, seq in enumerate(sequences):
        if len(seq) != length:
            raise ValueError(f"record {names[i]} has length {len(seq)}, expected {length} "
                             f"(all sequences must have the model's input length)")
    raw = np.frombuffer("".join(sequences).encode("ascii", errors="replace"), np.uint8)
    codes = _CODES[raw].reshape(len(sequences), length)
    bad = np.argwhere(codes == 255)
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"record {names[i]}: letter {sequences[i][j]!r} at position {j + 1} is "
                         "not A, C, G, T, U or N")
    return codes


def check_sequences(sequences, ids=None):
    """Validates DNA sequences for motif scoring; returns their uint8 (n, L) codes.

    Args:
        sequences: n str of equal length (A/C/G/T/U/N, any case).
        ids: optional n record names, quoted in error messages.

    Returns:
        uint8 (n, L): A 0, C 1, G 2, T/U 3, N 4.

    Raises:
        TypeError: a record is not a str.
        ValueError: no sequences, unequal lengths, or a letter that is not a
            nucleotide (naming the record and the 1-based position).
    """
    return _sequence_codes(sequences, ids)


def locate_kmers(sequences, k, min_count=1, ids=None):
    """Locates every k-mer occurring at least ``min_count`` times.

    Vectorised: the k-mer code at every position is built from ``k`` shifted
    slices of the ``(n, L)`` base codes; k-mers containing ``N`` are skipped
    (as upstream, which drops the ``N``-containing words after counting).

    Args:
        sequences: n str of equal length L (A/C/G/T/U/N, any case).
        k: int in [1, 31]. Motif length (DeepASMM uses 4..12).
        min_count: int >= 1. Minimum number of occurrences (overlapping ones
            count) for a k-mer to be kept (upstream default 10).
        ids: optional n record names, quoted in error messages.

    Returns:
        `KmerOccurrences`.

    Raises:
        ValueError: k outside [1, 31] or longer than the sequences,
            ``min_count`` < 1, sequences of unequal length, or a letter that
            is not a nucleotide (naming the record and position).
    """
    if not 1 <= int(k) <= 31:
        raise ValueError(f"k must be in [1, 31], got {k}")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    k = int(k)
    codes = _sequence_codes(sequences, ids)
    n, length = codes.shape
    if k > length:
        raise ValueError(f"k={k} is longer than the sequences ({length} bp)")
    span = length - k + 1
    value = np.zeros((n, span), np.int64)
    valid = np.ones((n, span), bool)
    for j in range(k):
        part = codes[:, j:j + span]
        value = value * 4 + np.minimum(part, 3)
        valid &= part < 4
    seq_idx, pos = np.nonzero(valid)
    flat = value[seq_idx, pos]
    uniq, first, inverse, counts = np.unique(flat, return_index=True, return_inverse=True,
                                             return_counts=True)
    kept = np.flatnonzero(counts >= min_count)
    kept = kept[np.argsort(first[kept], kind="stable")]  # order of first appearance
    new_id = np.full(len(uniq), -1, np.int64)
    new_id[kept] = np.arange(len(kept))
    occ_motif = new_id[inverse.ravel()]
    keep_occ = np.flatnonzero(occ_motif >= 0)
    order = keep_occ[np.argsort(occ_motif[keep_occ], kind="stable")]
    digits = (uniq[kept][:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3
    kmers = np.array(list("ACGT"), dtype="S1")[digits].view(f"S{k}").ravel().astype(str) \
        if len(kept) else np.zeros(0, dtype=f"<U{k}")
    return KmerOccurrences(k=k, kmers=kmers, counts=counts[kept].astype(np.int64),
                           motif_index=occ_motif[order], sequence_index=seq_idx[order].astype(np.int64),
                           position=pos[order].astype(np.int64))


def linear_output_model(model):
    """A copy of ``model`` whose output layers have a linear activation.

    Upstream DeepASMM scores perturbations on the pre-activation outputs
    (``model.layers[-1].activation = linear``); here every layer that produces
    a model output and has an ``activation`` is replaced by a copy with
    ``"linear"`` (same config and weights), and an output that is a bare
    ``Activation`` layer is replaced by its input. Other layers are shared
    with ``model``; nothing is retrained.

    Args:
        model: a built `keras.Model` (Sequential or functional).

    Returns:
        `keras.Model` with the same inputs and linear outputs.
    """
    inputs = model.inputs
    outputs = []
    for tensor in model.outputs:
        layer = tensor._keras_history.operation
        if isinstance(layer, keras.layers.Activation):
            outputs.append(layer.input)
            continue
        if getattr(layer, "activation", None) not in (None, keras.activations.linear):
            config = layer.get_config()
            config["activation"] = "linear"
            config["name"] = layer.name + "_linear"
            clone = layer.__class__.from_config(config)
            clone.build(layer.input.shape)
            for target, source in zip(clone.weights, layer.weights):
                target.assign(source)
            outputs.append(clone(layer.input))
            continue
        outputs.append(tensor)
    return keras.Model(inputs, outputs, name=model.name + "_linear")


def _input_adapter(model, length):
    """A function mapping (batch, L, 4) one-hot to the model's input layout.

    Accepted model inputs (batch dimension left out): ``(L, 4)`` as is;
    ``(4, L)`` transposed; ``(L, 4, 1)`` / ``(1, L, 4)`` with a unit axis
    added; any other shape with ``4 L`` elements reshaped in row-major order
    (upstream's last resort).
    """
    shape = tuple(model.inputs[0].shape[1:])
    if shape == (length, 4) or shape == (None, 4):
        return lambda x: x
    if shape == (4, length):
        return lambda x: ops.transpose(x, (0, 2, 1))
    if shape == (length, 4, 1):
        return lambda x: ops.expand_dims(x, -1)
    if shape == (1, length, 4):
        return lambda x: ops.expand_dims(x, 1)
    if None not in shape and math.prod(shape) == 4 * length:
        return lambda x: ops.reshape(x, (-1, *shape))
    raise ValueError(f"model input shape {shape} does not fit ({length}, 4) one-hot sequences "
                     f"(accepted: ({length}, 4), (4, {length}), ({length}, 4, 1), (1, {length}, 4) "
                     f"or any shape of {4 * length} values)")


def _flat_outputs(y):
    """(batch, n_outputs) float32 from a model output or list of outputs."""
    if isinstance(y, (list, tuple, dict)):
        y = list(y.values()) if isinstance(y, dict) else list(y)
        return ops.concatenate([ops.reshape(t, (ops.shape(t)[0], -1)) for t in y], axis=-1)
    return ops.reshape(y, (ops.shape(y)[0], -1))


def _select(y, output_index):
    y = np.asarray(y, np.float64)
    if output_index is None:
        return y
    index = np.atleast_1d(np.asarray(output_index))
    if index.max() >= y.shape[1] or index.min() < -y.shape[1]:
        raise ValueError(f"output_index {output_index} is out of range for a model with "
                         f"{y.shape[1]} outputs")
    return y[:, index]


def _relative_change(y_ref, y):
    """Σ over outputs of |(y_ref − y) / (y_ref + 1e-8)|, float64 (n,)."""
    return np.abs((y_ref - y) / (y_ref + EPSILON)).sum(axis=1)


@dataclasses.dataclass
class PerturbationScores:
    """Per-occurrence scores, aligned with a `KmerOccurrences`.

    Attributes:
        scs: float64 (n_occ,). Sequence-context synergy of each occurrence.
        af: float64 (n_occ,). Autonomous functionality of each occurrence.
        seconds: dict, ``scs`` and ``af`` wall-clock seconds.
        forward_rows: dict, perturbed rows evaluated for ``scs`` and ``af``.
    """

    scs: np.ndarray
    af: np.ndarray
    seconds: dict
    forward_rows: dict


def _check_inputs(x, occurrences):
    x = np.asarray(x, np.float32)
    if x.ndim != 3 or x.shape[2] != 4:
        raise ValueError(f"x must be (n, L, 4) one-hot, got shape {x.shape}")
    if len(occurrences) and (occurrences.sequence_index.max() >= len(x)
                             or occurrences.position.max() + occurrences.k > x.shape[1]):
        raise ValueError("occurrences point outside x (were they located in other sequences?)")
    return x


class NaiveMotifScorer:
    """Reference engine: upstream DeepASMM's perturbations, literally.

    Every occurrence gets one full perturbed sequence (SCS: the native
    sequence with the occurrence zeroed; AF: an all-zero sequence holding the
    k-mer), evaluated by ``model.predict`` in chunks; nothing is shared or
    reused. Slow by design: it is what :class:`MotifScorer` is tested against.

    Args:
        model: `keras.Model` taking one-hot sequences (see
            :func:`score_motifs` for the accepted input layouts).
        output_index: int, sequence of int or None (all outputs). Outputs
            summed in the score.
        batch_size: int. ``model.predict`` batch size; 32, Keras's default,
            is what upstream's ``model.predict(pred_seq)`` uses.
        chunk_size: int. Perturbed sequences built at once.
        linearize: bool. Score the model with linear outputs (upstream).
    """

    def __init__(self, model, output_index=None, batch_size=32, chunk_size=4096, linearize=True):
        self.model = linear_output_model(model) if linearize else model
        self.output_index = output_index
        self.batch_size = int(batch_size)
        self.chunk_size = int(chunk_size)

    def _predict(self, x):
        adapt = _input_adapter(self.model, x.shape[1])
        y = self.model.predict(np.asarray(adapt(x)), batch_size=self.batch_size, verbose=0)
        return _select(keras.ops.convert_to_numpy(_flat_outputs(y)), self.output_index)

    def score(self, x, occurrences, verbose=0):
        """Per-occurrence SCS and AF scores.

        Args:
            x: float32 (n, L, 4) one-hot of the sequences the occurrences
                were located in.
            occurrences: `KmerOccurrences`.
            verbose: int. 1 shows a progress bar.

        Returns:
            `PerturbationScores`.
        """
        x = _check_inputs(x, occurrences)
        k, length = occurrences.k, x.shape[1]
        motifs = occurrences.one_hot_kmers()
        n = len(occurrences)
        scs, af = np.zeros(n), np.zeros(n)
        seconds = {}
        start = time.perf_counter()
        y_native = self._predict(x)
        for lo in tqdm(range(0, n, self.chunk_size), disable=not verbose, desc="SCS (naive)"):
            rows = []
            for i in range(lo, min(lo + self.chunk_size, n)):
                seq = x[occurrences.sequence_index[i]].copy()
                seq[occurrences.position[i]:occurrences.position[i] + k] = 0.0
                rows.append(seq)
            y = self._predict(np.stack(rows))
            scs[lo:lo + len(rows)] = _relative_change(
                y_native[occurrences.sequence_index[lo:lo + len(rows)]], y)
        seconds["scs"] = time.perf_counter() - start
        start = time.perf_counter()
        y_zero = self._predict(np.zeros((1, length, 4), np.float32))
        for lo in tqdm(range(0, n, self.chunk_size), disable=not verbose, desc="AF (naive)"):
            rows = []
            for i in range(lo, min(lo + self.chunk_size, n)):
                seq = np.zeros((length, 4), np.float32)
                seq[occurrences.position[i]:occurrences.position[i] + k] = \
                    motifs[occurrences.motif_index[i]]
                rows.append(seq)
            y = self._predict(np.stack(rows))
            af[lo:lo + len(rows)] = _relative_change(y_zero, y)
        seconds["af"] = time.perf_counter() - start
        return PerturbationScores(scs, af, seconds, {"scs": n, "af": n})


# --------------------------------------------------------------------------- fast engine

_POINTWISE = (keras.layers.Activation, keras.layers.BatchNormalization, keras.layers.Dropout,
              keras.layers.SpatialDropout1D, keras.layers.GaussianNoise,
              keras.layers.GaussianDropout, keras.layers.ReLU, keras.layers.LeakyReLU,
              keras.layers.ELU)


@dataclasses.dataclass
class _Level:
    """One layer of the convolutional stem, with its static window sizes."""

    layer: object
    kind: str            # "window" (conv / pool) or "pointwise"
    length_in: int = 0   # positions of the layer's input
    kernel: int = 1      # effective kernel (dilated) or pool size
    stride: int = 1
    left_pad: int = 0
    width_in: int = 0    # changed positions entering the layer
    width_out: int = 0   # changed positions leaving it
    window: int = 0      # input positions read (changed + flanks)
    margin: int = 0      # zero padding of the cached reference input


def _window_geometry(layer, length_in):
    """(kernel, stride, left_pad, length_out) of a supported conv/pool layer, else None."""
    if isinstance(layer, keras.layers.Conv1D) and type(layer) is keras.layers.Conv1D:
        if layer.data_format != "channels_last" or layer.groups != 1:
            return None
        stride, dilation = layer.strides[0], layer.dilation_rate[0]
        if stride > 1 and dilation > 1:
            return None
        kernel = dilation * (layer.kernel_size[0] - 1) + 1
        if layer.padding == "valid":
            return kernel, stride, 0, (length_in - kernel) // stride + 1
        if layer.padding == "same":
            length_out = -(-length_in // stride)
            total = max((length_out - 1) * stride + kernel - length_in, 0)
            return kernel, stride, total // 2, length_out
        if layer.padding == "causal" and stride == 1:
            return kernel, 1, kernel - 1, length_in
        return None
    if isinstance(layer, (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)):
        if layer.padding != "valid" or layer.data_format != "channels_last":
            return None
        pool, stride = layer.pool_size[0], layer.strides[0]
        return pool, stride, 0, (length_in - pool) // stride + 1
    return None


def _is_pointwise(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return layer.axis in (-1, 2, [-1], [2])
    if isinstance(layer, keras.layers.LayerNormalization):
        return list(np.atleast_1d(layer.axis)) in ([-1], [2])
    return isinstance(layer, _POINTWISE)


def _is_linear_conv(layer):
    """A stride-1 Conv1D: its pre-activation output is updated by the input change alone."""
    return isinstance(layer, keras.layers.Conv1D) and layer.strides[0] == 1


def _window_call(layer, x):
    """Applies a conv/pool layer to a window with 'valid' padding."""
    if isinstance(layer, keras.layers.Conv1D):
        y = ops.conv(x, layer.kernel, strides=layer.strides[0], padding="valid",
                     dilation_rate=layer.dilation_rate[0])
        if layer.use_bias:
            y = y + layer.bias
        return layer.activation(y) if layer.activation is not None else y
    pool = ops.max_pool if isinstance(layer, keras.layers.MaxPooling1D) else ops.average_pool
    return pool(x, layer.pool_size[0], layer.strides[0], padding="valid")


def _trace_stem(model, k):
    """The longest chain of local layers after the input, with window sizes for width k.

    Returns ``(levels, top_tensor)``; ``levels`` is empty when nothing can be
    reused (then the head is the whole model).
    """
    if len(model.inputs) != 1:
        return [], None
    tensor = model.inputs[0]
    if tuple(tensor.shape[1:]) != (tensor.shape[1], 4) or tensor.shape[1] is None:
        return [], None
    length, width = tensor.shape[1], k
    chain, tops = [], []
    consumers = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for t in node.input_tensors:
                consumers.setdefault(id(t), set()).add(id(layer))
    while True:
        users = consumers.get(id(tensor), set())
        if len(users) != 1:
            break
        layer = next(l for l in model.layers if id(l) == next(iter(users)))
        if len(getattr(layer, "_inbound_nodes", [])) != 1 or layer.input is not tensor:
            break
        geometry = _window_geometry(layer, length)
        if geometry is not None:
            kernel, stride, left_pad, length_out = geometry
            width_out = (width + kernel + stride - 2) // stride
            if width_out >= length_out or length_out < 1:
                break
            window = (width_out - 1) * stride + kernel
            chain.append(_Level(layer, "window", length, kernel, stride, left_pad, width, width_out,
                                window, margin=window + 2 * kernel + 2 * stride))
            length, width = length_out, width_out
        elif _is_pointwise(layer):
            chain.append(_Level(layer, "pointwise", length, width_in=width, width_out=width))
        else:
            break
        tensor = layer.output
        tops.append((len(chain), tensor))
    # The head must be computable from the stem's top alone (no skip connection into it).
    for depth, top in reversed(tops):
        if not any(level.kind == "window" for level in chain[:depth]):
            continue
        try:
            keras.Model(top, model.outputs)
        except Exception:  # noqa: BLE001 - Keras raises ValueError/KeyError for disconnected graphs
            continue
        return chain[:depth], top
    return [], None


class MotifScorer:
    """Fast engine for DeepASMM's perturbations (same results as the naive one).

    * One compiled function (``tf.function`` with XLA) evaluates batches of
      perturbations of one fixed shape; it never builds a full perturbed
      sequence.
    * AF perturbations are deduplicated by (k-mer, position): each distinct
      one is evaluated once and its score given to all its occurrences.
    * Reuse of unchanged computation (fastISM): the longest chain of local
      layers after the input (``Conv1D`` with any padding/dilation, valid
      ``MaxPooling1D``/``AveragePooling1D``, and point-wise layers:
      BatchNormalization, Activation, Dropout, ReLU, ...) is the *stem*. Its
      activations on the unperturbed sequences are cached; a perturbation of
      k positions changes only a window of each stem layer, which is computed
      from the perturbed window of the layer below and the cached flanks, and
      spliced into the cached top activation (a stride-1 convolution, being
      linear before its activation, is updated by convolving the input
      *change* only and adding it to its cached output: half the work of
      recomputing its window); the rest of the model (the
      *head*: flatten/dense, global pooling, attention, ...) then runs on it.
      The out-of-range parts of each window are the layer's zero padding, so
      the result is exact. A model with no such stem (or not taking (L, 4)
      input) is evaluated in full, still batched and compiled.
    * Memory is bounded: SCS processes the sequences in blocks of
      ``block_bytes`` of cached activations, and perturbations in batches of
      ``batch_size``, with a progress bar.

    Args:
        model: `keras.Model` taking one-hot sequences.
        output_index: int, sequence of int or None (all outputs).
        batch_size: int. Perturbations per compiled call.
        block_bytes: int. Budget for the cached activations of one block of
            sequences.
        reuse: bool. Use the stem reuse (False evaluates full sequences).
        linearize: bool. Linear output activations (upstream).
    """

    def __init__(self, model, output_index=None, batch_size=2048, block_bytes=256 * 2**20,
                 reuse=True, linearize=True):
        self.model = linear_output_model(model) if linearize else model
        self.output_index = output_index
        self.batch_size = int(batch_size)
        self.block_bytes = int(block_bytes)
        self.reuse = bool(reuse)
        self._plans = {}

    # ---- planning
    def _plan(self, k, length):
        key = (k, length)
        if key in self._plans:
            return self._plans[key]
        levels, top = _trace_stem(self.model, k) if self.reuse else ([], None)
        adapt = _input_adapter(self.model, length)
        if levels:
            head = keras.Model(top, self.model.outputs, name="head")
            window_inputs = [level.layer.input for level in levels if level.kind == "window"]
            if window_inputs[0] is self.model.inputs[0]:
                window_inputs = window_inputs[1:]  # the one-hot input itself, not recomputed
            plan_first_is_input = len(window_inputs) < sum(l.kind == "window" for l in levels)
            cache_model = keras.Model(self.model.inputs, window_inputs + [top], name="stem_cache")
            top_length, top_channels = top.shape[1], top.shape[2]
        else:
            head, cache_model, top_length, top_channels = None, None, length, 4
            plan_first_is_input = False
        plan = dict(levels=levels, head=head, cache_model=cache_model, adapt=adapt,
                    first_is_input=plan_first_is_input,
                    top_length=top_length, top_channels=top_channels, k=k, length=length)
        plan["perturbed"] = self._compile(plan)
        plan["full"] = _maybe_compile(
            lambda x: _flat_outputs(self.model(adapt(x), training=False)))
        self._plans[key] = plan
        return plan

    def _compile(self, plan):
        levels, head, adapt, k = plan["levels"], plan["head"], plan["adapt"], plan["k"]
        model = self.model

        def splice(ref, seq, start, width, values, length):
            """(B, length, C): ``ref[seq]`` with ``values`` over [start, start+width)."""
            t = ops.arange(length, dtype="int32")[None, :]
            inside = (t >= start[:, None]) & (t < start[:, None] + width)
            take = ops.clip(t - start[:, None], 0, width - 1)
            from_values = ops.take_along_axis(values, ops.expand_dims(take, -1), axis=1)
            return ops.where(ops.expand_dims(inside, -1), from_values, ops.take(ref, seq, axis=0))

        def rows(ref, seq, index):
            """ref[seq[b], index[b, w]] for (n, P, C) ref, index clipped into [0, P)."""
            padded, channels = ops.shape(ref)[1], ops.shape(ref)[2]
            flat = seq[:, None] * padded + ops.clip(index, 0, padded - 1)
            return ops.take(ops.reshape(ref, (-1, channels)), flat, axis=0)

        def perturbed(refs, top_ref, seq, pos, values):
            start, width, v = pos, k, values
            window_level = 0
            for level in levels:
                if level.kind == "pointwise":
                    v = level.layer(v, training=False)
                    continue
                ref = refs[window_level]
                window_level += 1
                j_lo = ops.floor_divide(start + level.left_pad - level.kernel, level.stride) + 1
                if _is_linear_conv(level.layer):
                    # Convolution is linear before its activation: the output changes by the
                    # convolution of (perturbed - reference) input, non-zero on `width` positions
                    # only, added to the cached pre-activation output (half the work of a window).
                    ref_in, ref_pre = ref
                    t = start[:, None] + ops.arange(width, dtype="int32")[None, :]
                    in_range = (t >= 0) & (t < level.length_in)
                    delta = ops.where(ops.expand_dims(in_range, -1),
                                      v - rows(ref_in, seq, t + level.margin), 0.0)
                    layer = level.layer
                    taps = ops.einsum("bwc,kcd->bwkd", delta, layer.kernel)
                    change = 0.0
                    for tap in range(layer.kernel_size[0]):
                        offset = level.kernel - 1 - layer.dilation_rate[0] * tap
                        change = change + ops.pad(
                            taps[:, :, tap, :],
                            ((0, 0), (offset, level.width_out - width - offset), (0, 0)))
                    t_out = j_lo[:, None] + ops.arange(level.width_out, dtype="int32")[None, :]
                    v = rows(ref_pre, seq, t_out + level.margin - level.left_pad) + change
                    if layer.activation is not None:
                        v = layer.activation(v)
                    start, width = j_lo, level.width_out
                    continue
                w_start = j_lo * level.stride - level.left_pad
                t = w_start[:, None] + ops.arange(level.window, dtype="int32")[None, :]
                inside = (t >= start[:, None]) & (t < start[:, None] + width) & \
                    (t >= 0) & (t < level.length_in)
                take = ops.clip(t - start[:, None], 0, width - 1)
                from_values = ops.take_along_axis(v, ops.expand_dims(take, -1), axis=1)
                window = ops.where(ops.expand_dims(inside, -1), from_values,
                                   rows(ref, seq, t + level.margin))
                v = _window_call(level.layer, window)
                start, width = j_lo, level.width_out
            if levels:
                full = splice(top_ref, seq, start, width, v, plan["top_length"])
                return _flat_outputs(head(full, training=False))
            full = splice(top_ref, seq, start, width, v, plan["length"])
            return _flat_outputs(model(adapt(full), training=False))

        return _maybe_compile(perturbed)

    # ---- reference activations
    def _references(self, plan, x):
        """Cached, zero-padded inputs of the stem's window layers and its top, for x."""
        if not plan["levels"]:
            return [], ops.convert_to_tensor(x)
        windows = [level for level in plan["levels"] if level.kind == "window"]
        outs = plan["cache_model"](ops.convert_to_tensor(x), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        inputs = ([ops.convert_to_tensor(x)] if plan["first_is_input"] else []) + list(outs[:-1])
        refs = []
        for t, level in zip(inputs, windows):
            padded = ops.pad(t, ((0, 0), (level.margin, level.margin), (0, 0)))
            if _is_linear_conv(level.layer):
                layer = level.layer
                pre = ops.conv(padded, layer.kernel, strides=1, padding="valid",
                               dilation_rate=layer.dilation_rate[0])
                refs.append((padded, pre + layer.bias if layer.use_bias else pre))
            else:
                refs.append(padded)
        return refs, outs[-1]

    def _cache_bytes(self, plan):
        per_seq = plan["top_length"] * plan["top_channels"]
        for level in plan["levels"]:
            if level.kind == "window":
                channels = level.layer.input.shape[-1]
                per_seq += (level.length_in + 2 * level.margin) * channels
                if _is_linear_conv(level.layer):
                    per_seq += (level.length_in + 2 * level.margin) * level.layer.filters
        return 4 * per_seq

    def predict(self, x):
        """(n, n_selected_outputs) float64 predictions of the (linearised) model."""
        x = np.asarray(x, np.float32)
        plan = self._plan(1, x.shape[1])
        ys = [np.asarray(plan["full"](ops.convert_to_tensor(x[i:i + self.batch_size])))
              for i in range(0, len(x), self.batch_size)]
        return _select(np.concatenate(ys), self.output_index)

    def _run(self, plan, x_ref, seq, pos, values_fn, desc, verbose):
        """Predictions for perturbations (seq, pos, values_fn(rows)) against references x_ref.

        Sequences are processed in equal blocks (the last one zero-padded) and
        perturbations in equal batches (the last one padded by repeating its
        first row), so the compiled function sees one shape.
        """
        n = len(seq)
        out = None
        block = max(1, min(len(x_ref), self.block_bytes // max(1, self._cache_bytes(plan))))
        order = np.argsort(seq, kind="stable")
        bounds = np.searchsorted(seq[order], np.arange(0, len(x_ref) + block, block))
        with tqdm(total=n, disable=not verbose, desc=desc, unit="perturbation",
                  mininterval=1.0) as bar:
            for b, s0 in enumerate(range(0, len(x_ref), block)):
                rows = order[bounds[b]:bounds[b + 1]]
                if not len(rows):
                    continue
                x_block = x_ref[s0:s0 + block]
                if len(x_block) < block:
                    x_block = np.concatenate([x_block, np.zeros((block - len(x_block),) + x_block.shape[1:],
                                                                x_block.dtype)])
                refs, top = self._references(plan, x_block)
                size = min(self.batch_size, len(rows)) if b == 0 and len(x_ref) <= block else \
                    self.batch_size
                for lo in range(0, len(rows), size):
                    chunk = rows[lo:lo + size]
                    padded = np.concatenate([chunk, np.full(size - len(chunk), chunk[0])])
                    y = plan["perturbed"](
                        refs, top, ops.convert_to_tensor((seq[padded] - s0).astype(np.int32)),
                        ops.convert_to_tensor(pos[padded].astype(np.int32)),
                        ops.convert_to_tensor(np.asarray(values_fn(padded), np.float32)))
                    y = np.asarray(y)[:len(chunk)]
                    if out is None:
                        out = np.zeros((n, y.shape[1]), np.float64)
                    out[chunk] = y
                    bar.update(len(chunk))
        return _select(out, self.output_index)

    def score(self, x, occurrences, verbose=0):
        """Per-occurrence SCS and AF scores (see :class:`NaiveMotifScorer`).

        Args:
            x: float32 (n, L, 4) one-hot of the sequences.
            occurrences: `KmerOccurrences` located in those sequences.
            verbose: int. 1 shows progress bars.

        Returns:
            `PerturbationScores`; ``forward_rows["af"]`` is the number of
            distinct (k-mer, position) pairs evaluated.
        """
        x = _check_inputs(x, occurrences)
        k, length = occurrences.k, x.shape[1]
        plan = self._plan(k, length)
        n = len(occurrences)
        if n == 0:
            return PerturbationScores(np.zeros(0), np.zeros(0), {"scs": 0.0, "af": 0.0},
                                      {"scs": 0, "af": 0})
        seconds = {}
        start = time.perf_counter()
        y_native = self.predict(x)
        zeros = np.zeros((self.batch_size, k, 4), np.float32)
        y = self._run(plan, x, occurrences.sequence_index, occurrences.position,
                      lambda rows: zeros[:len(rows)], "SCS", verbose)
        scs = _relative_change(y_native[occurrences.sequence_index], y)
        seconds["scs"] = time.perf_counter() - start

        start = time.perf_counter()
        motifs = occurrences.one_hot_kmers()
        pair = occurrences.motif_index * length + occurrences.position
        unique_pair, inverse = np.unique(pair, return_inverse=True)
        motif_of, pos_of = unique_pair // length, unique_pair % length
        zero_seq = np.zeros((1, length, 4), np.float32)
        y_zero = self.predict(zero_seq)
        y = self._run(plan, zero_seq, np.zeros(len(unique_pair), np.int64), pos_of,
                      lambda rows: motifs[motif_of[rows]], "AF", verbose)
        af = _relative_change(y_zero, y)[inverse.ravel()]
        seconds["af"] = time.perf_counter() - start
        return PerturbationScores(scs, af, seconds, {"scs": n, "af": len(unique_pair)})


class _Compiled:
    """A function compiled once with XLA (``jit_compile``), else as a plain graph.

    XLA fuses the engine's gathers, selects and small convolutions (about 5×
    faster on CPU than the plain graph); a model with an operation XLA cannot
    compile falls back to ``tf.function`` without it. Other backends run eagerly.
    """

    def __init__(self, fn):
        self.fn = fn
        self.jit = self.plain = None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self.jit = tf.function(fn, jit_compile=True, reduce_retracing=True)
            self.plain = tf.function(fn, reduce_retracing=True)

    def __call__(self, *args):
        if self.jit is not None:
            try:
                return self.jit(*args)
            except Exception:  # noqa: BLE001 - XLA raises several error types; plain re-raises real ones
                self.jit = None
        return self.plain(*args) if self.plain is not None else self.fn(*args)


def _maybe_compile(fn):
    return _Compiled(fn)


# --------------------------------------------------------------------------- aggregation


def aggregate_scores(scores, motif_index, counts, top_r=None, min_top_r_num=30):
    """Per-motif score: mean of the top-r fraction of its occurrence scores.

    Upstream's rule: with ``top_r`` None ("all") the mean over all
    occurrences; otherwise ``n = floor(count × top_r)`` if ``count × top_r >=
    min_top_r_num``, else ``n = min_top_r_num``, and the score is the sum of
    the ``n`` highest occurrence scores divided by ``n`` (also when the motif
    has fewer than ``n`` occurrences, as upstream).

    Args:
        scores: float (n_occ,), per-occurrence scores.
        motif_index: int (n_occ,), motif of each occurrence.
        counts: int (m,), occurrences per motif (``bincount(motif_index)``).
        top_r: float in (0, 1] or None.
        min_top_r_num: int >= 1, the floor of n.

    Returns:
        float64 (m,).

    Raises:
        ValueError: ``top_r`` outside (0, 1] or ``min_top_r_num`` < 1.
    """
    scores, motif_index = np.asarray(scores, np.float64), np.asarray(motif_index)
    counts = np.asarray(counts, np.int64)
    m = len(counts)
    if top_r is None:
        return np.bincount(motif_index, scores, minlength=m) / np.maximum(counts, 1)
    if not 0.0 < float(top_r) <= 1.0:
        raise ValueError(f"top_r must be in (0, 1] or 'all', got {top_r}")
    if min_top_r_num < 1:
        raise ValueError(f"min_top_r_num must be >= 1, got {min_top_r_num}")
    wanted = counts * float(top_r)
    take = np.where(wanted >= min_top_r_num, np.floor(wanted), min_top_r_num).astype(np.int64)
    order = np.lexsort((-scores, motif_index))
    sorted_motif = motif_index[order]
    group_start = np.searchsorted(sorted_motif, sorted_motif, side="left")
    rank = np.arange(len(order)) - group_start
    chosen = rank < take[sorted_motif]
    total = np.bincount(sorted_motif[chosen], scores[order][chosen], minlength=m)
    return total / np.maximum(take, 1)


def _minmax(values):
    values = np.asarray(values, np.float64)
    span = values.max() - values.min() if len(values) else 0.0
    return np.zeros_like(values) if span == 0 else (values - values.min()) / span


def combine_scores(counts, af_score, scs_score):
    """Upstream's combined scores: minmax(count) × minmax(score).

    Args:
        counts, af_score, scs_score: float (m,).

    Returns:
        ``(autonomous_functionality_score, sequence_context_synergy_score)``,
        float64 (m,) each, in [0, 1] (all 0 when a column is constant).
    """
    count_norm = _minmax(counts)
    return count_norm * _minmax(af_score), count_norm * _minmax(scs_score)


@dataclasses.dataclass
class MotifScores:
    """Result of :func:`score_motifs`.

    Attributes:
        table: DataFrame with `SCORE_COLUMNS`, one row per motif, in order of
            first appearance.
        occurrences: `KmerOccurrences`.
        perturbations: `PerturbationScores` (per occurrence).
        seconds: dict, ``locate``, ``scs``, ``af``, ``aggregate`` seconds.
    """

    table: pd.DataFrame
    occurrences: KmerOccurrences
    perturbations: PerturbationScores
    seconds: dict


def score_motifs(model, sequences, motif_length=8, min_motif_count=10, top_r=0.1,
                 min_top_r_num=30, output_index=None, engine="fast", batch_size=2048,
                 ids=None, verbose=0):
    """DeepASMM motif scores of ``sequences`` under ``model``.

    Args:
        model: `keras.Model` on one-hot DNA: input ``(L, 4)`` channels last
            (``A, C, G, T``), or ``(4, L)``, ``(L, 4, 1)``, ``(1, L, 4)``, or any
            shape of ``4 L`` values (filled from the (L, 4) array in row-major
            order). Any number of outputs; its output layers' activations
            are made linear for scoring.
        sequences: n str of equal length L (A/C/G/T/N).
        motif_length: int, k (4..12 in DeepASMM).
        min_motif_count: int. Minimum occurrences of a k-mer.
        top_r: float in (0, 1], or None / ``"all"``.
        min_top_r_num: int. Floor of the number of occurrences averaged.
        output_index: int, list of int or None (all outputs summed).
        engine: ``"fast"`` (`MotifScorer`) or ``"naive"`` (`NaiveMotifScorer`).
        batch_size: int. Perturbations per batch.
        ids: optional n record names for error messages.
        verbose: int. 1 shows progress bars.

    Returns:
        `MotifScores`.

    Raises:
        ValueError: bad sequences (naming the record), bad parameters, or a
            model input that does not fit.
    """
    if isinstance(top_r, str):
        top_r = None if top_r.lower() == "all" else float(top_r)
    if engine not in ("fast", "naive"):
        raise ValueError(f"engine must be 'fast' or 'naive', got {engine!r}")
    seconds = {}
    start = time.perf_counter()
    occurrences = locate_kmers(sequences, motif_length, min_motif_count, ids=ids)
    x = fea.one_hot(list(sequences), alphabet="dna", ids=ids)
    _input_adapter(model, x.shape[1])
    seconds["locate"] = time.perf_counter() - start
    scorer = (MotifScorer(model, output_index, batch_size=batch_size) if engine == "fast" else
              NaiveMotifScorer(model, output_index))
    perturbations = scorer.score(x, occurrences, verbose=verbose)
    seconds.update(perturbations.seconds)
    start = time.perf_counter()
    af = aggregate_scores(perturbations.af, occurrences.motif_index, occurrences.counts, top_r,
                          min_top_r_num)
    scs = aggregate_scores(perturbations.scs, occurrences.motif_index, occurrences.counts, top_r,
                           min_top_r_num)
    af_combined, scs_combined = combine_scores(occurrences.counts, af, scs)
    table = pd.DataFrame({"motif": occurrences.kmers, "count": occurrences.counts,
                          "af_score": af, "scs_score": scs,
                          "autonomous_functionality_score": af_combined,
                          "sequence_context_synergy_score": scs_combined})
    seconds["aggregate"] = time.perf_counter() - start
    return MotifScores(table, occurrences, perturbations, seconds)
