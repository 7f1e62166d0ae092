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
* :class:`MotifScorer`, the fast engine: XLA-compiled batches; as fastISM
  (Nair et al. 2022, "fastISM: performant in silico saturation mutagenesis
  for convolutional neural networks", Bioinformatics 38:2397) exploits, the
  convolutional stem of the model is recomputed only on the window of each
  layer that a perturbation changes (a convolution by adding the
  convolution of its input's change to its cached output), spliced into the
  cached activations of the unperturbed sequence; AF perturbations
  deduplicated by (k-mer, position), and their stem computed once per
  (k-mer, phase against the strides) wherever it reads only the constant
  all-zero background (translation equivariance); memory bounded by
  processing sequences and k-mers in blocks.

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
        forward_rows: dict, perturbed rows evaluated for ``scs`` and ``af``
            (``MotifScorer`` adds ``af_stages``: the rows computed at each
            stage of the convolutional stem for AF).
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
    """One layer of the convolutional stem, with its static window sizes.

    A perturbation whose changed positions of the layer's input start at
    ``s`` (``width_in`` of them) changes at most ``width_out`` outputs, from
    ``j_lo = floor((s + left_pad - kernel) / stride) + 1``; they read the
    ``window`` inputs from ``j_lo * stride - left_pad``. The values handed
    from layer to layer cover the changed positions and, where the next
    conv/pool layer needs them, its flanks: the layer's input values start
    ``in_left`` positions before ``s``; its output values start ``out_left``
    positions before ``j_lo`` and are ``out_width`` wide.
    """

    layer: object
    kind: str                # "window" (conv / pool) or "pointwise"
    length_in: int = 0       # positions of the layer's input
    length_out: int = 0      # ... and of its output
    kernel: int = 1          # effective kernel (dilated) or pool size
    stride: int = 1
    left_pad: int = 0
    width_in: int = 0        # changed positions entering the layer
    width_out: int = 0       # changed positions leaving it
    window: int = 0          # input positions read by the changed outputs
    linear: bool = False     # stride-1 Conv1D: updated by convolving the input change
    block: int = 1           # ... in products of this many changed positions
    in_left: int = 0
    out_left: int = 0
    out_width: int = 0


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


def _is_linear_activation(layer):
    return getattr(layer, "activation", None) in (None, keras.activations.linear)


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


def _set_extents(levels):
    """Static widths of the values passed between the stem's conv/pool layers.

    A stride-1 convolution followed by a pool or strided convolution hands up
    the whole window that layer reads (changed positions and flanks, for
    every phase of the perturbation against the stride), so that the flanks
    are its cached pre-activation plus nothing, and the next layer needs
    neither a gather of cached flanks nor a merge.
    """
    windows = [level for level in levels if level.kind == "window"]
    for level in windows:
        level.out_width = level.width_out
        if level.linear:
            level.block = min(level.width_in, -(-128 // level.layer.kernel.shape[1]))
    for below, above in zip(windows, windows[1:]):
        if below.linear and not above.linear:
            below.out_left = above.kernel - 1
            below.out_width = above.window + above.stride - 1
            above.in_left = above.kernel - 1
    return levels


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
            linear = _is_linear_conv(layer)
            width_out = (width + kernel + stride - 2) // stride
            if width_out >= length_out or length_out < 1 or (not linear and kernel < stride):
                break
            window = (width_out - 1) * stride + kernel
            chain.append(_Level(layer, "window", length, length_out, kernel, stride, left_pad,
                                width, width_out, window, linear))
            length, width = length_out, width_out
        elif _is_pointwise(layer):
            chain.append(_Level(layer, "pointwise", length, length, width_in=width,
                                width_out=width))
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
        return _set_extents(chain[:depth]), top
    return [], None


@dataclasses.dataclass
class _Stage:
    """One step of the stem's update for a perturbation.

    ``kind``: ``"change"`` (the change of a stride-1 convolution's
    pre-activation output, from the change of its input), ``"combine"``
    (that change added to the cached pre-activation, then the activation) or
    ``"window"`` (a pool or strided convolution recomputed on its window).
    ``before``: point-wise layers applied to the stage's input (only before
    the stem's first conv/pool layer); ``after``: to its output.
    """

    kind: str
    level: _Level
    before: list = dataclasses.field(default_factory=list)
    after: list = dataclasses.field(default_factory=list)


def _stages(levels):
    stages, pending = [], []
    for level in levels:
        if level.kind == "window":
            if level.linear:
                stages += [_Stage("change", level, pending), _Stage("combine", level)]
            else:
                stages.append(_Stage("window", level, pending))
            pending = []
        elif stages:
            stages[-1].after.append(level)
        else:
            pending.append(level)
    return stages


# ---- traced building blocks (shapes: B perturbations, positions, channels)

def _iota(n):
    return ops.arange(n, dtype="int32")[None, :]


def _rows(ref, seq, index):
    """``ref[seq[b], index[b, w]]`` of a (n, P, C) ``ref``, ``index`` clipped into [0, P)."""
    length, channels = ref.shape[1], ref.shape[2]
    flat = seq[:, None] * length + ops.clip(index, 0, length - 1)
    return ops.take(ops.reshape(ref, (-1, channels)), flat, axis=0)


def _shift(v, offset, width, choices):
    """(B, width, C) with ``out[b, u] = v[b, u - offset[b]]`` (0 outside v).

    ``offset[b]`` is one of the static ``choices`` (the phases of a stride):
    one static slice per choice and a select, no gather.
    """
    if len(choices) > 8:
        index = _iota(width) - offset[:, None]
        inside = (index >= 0) & (index < v.shape[1])
        rows = _rows(v, ops.arange(ops.shape(v)[0], dtype="int32"), index)
        return ops.where(inside[..., None], rows, 0.0)
    out = None
    for c in choices:
        lo = min(max(c, 0), width)
        hi = max(min(c + v.shape[1], width), lo)
        placed = ops.pad(v[:, lo - c:hi - c], ((0, 0), (lo, width - hi), (0, 0)))
        out = placed if out is None else ops.where((offset == c)[:, None, None], placed, out)
    return out


def _conv_change(level, delta):
    """Change of a stride-1 convolution's output from a change of its input.

    delta: (B, width_in, C_in), the input change on the changed positions.
    Returns (B, width_out, C_out): the change of the pre-activation output
    from ``j_lo``. Convolution is linear, so this is the convolution of the
    change alone: the changed positions are cut into blocks of
    ``level.block``, each multiplied by the band (Toeplitz) matrix of the
    kernel for its reach, and the shifted products summed (blocks of
    ``block × C_in >= 128`` inputs keep the products efficient without
    multiplying many zeros: one block for one-hot input, 2 positions of 64
    channels).
    """
    layer = level.layer
    taps, dilation = layer.kernel_size[0], layer.dilation_rate[0]
    c_in, c_out = layer.kernel.shape[1], layer.kernel.shape[2]
    reach = level.kernel - 1
    change = 0.0
    for lo in range(0, level.width_in, level.block):
        width = min(level.block, level.width_in - lo)
        band = np.zeros((width, width + reach, taps), np.float32)
        for tap in range(taps):
            band[np.arange(width), np.arange(width) + reach - dilation * tap, tap] = 1.0
        matrix = ops.reshape(ops.einsum("iut,tcd->icud", band, layer.kernel),
                             (width * c_in, (width + reach) * c_out))
        part = ops.matmul(ops.reshape(delta[:, lo:lo + width], (-1, width * c_in)), matrix)
        part = ops.reshape(part, (-1, width + reach, c_out))
        change = change + ops.pad(part, ((0, 0), (lo, level.width_out - width - reach - lo),
                                         (0, 0)))
    return change


def _first_output(level, s):
    """j_lo: the first output changed by a change starting at input position s."""
    return (s + level.left_pad - level.kernel) // level.stride + 1


def _stage_position(stage, s):
    """The position a stage is called with, from the first changed input position s."""
    return _first_output(stage.level, s) if stage.kind == "combine" else s


def _stage_call(stage, ref, seq, pos, v):
    """New values of one stage for a batch of perturbations.

    Args:
        stage: `_Stage`.
        ref: tuple of the stage's cached reference arrays (see
            `MotifScorer._references`).
        seq: int32 (B,), the reference sequence of each perturbation.
        pos: int32 (B,), ``_stage_position``: the first changed input
            position (change, window) or ``j_lo`` (combine).
        v: float32 (B, W, C): for change and window the layer's input values
            from ``pos - level.in_left``; for combine the change from ``j_lo``.

    Returns:
        float32: change (B, width_out, C'), or output values (B, out_width,
        C') from ``j_lo - out_left``.
    """
    level, layer = stage.level, stage.level.layer
    for pointwise in stage.before:
        v = pointwise.layer(v, training=False)
    if stage.kind == "change":
        t = pos[:, None] + _iota(level.width_in)
        in_range = (t >= 0) & (t < level.length_in)
        return _conv_change(level, ops.where(in_range[..., None], v - _rows(ref[0], seq, t), 0.0))
    if stage.kind == "combine":
        t = (pos - level.out_left)[:, None] + _iota(level.out_width)
        right = level.out_width - level.out_left - level.width_out
        y = _rows(ref[0], seq, t) + ops.pad(v, ((0, 0), (level.out_left, right), (0, 0)))
        y = layer.activation(y) if layer.activation is not None else y
    else:
        stride, kernel = level.stride, level.kernel
        j_lo = _first_output(level, pos)
        phase = pos + level.left_pad - kernel - (j_lo - 1) * stride  # in [0, stride)
        t = (j_lo * stride - level.left_pad)[:, None] + _iota(level.window)
        in_range = (t >= 0) & (t < level.length_in)
        if level.in_left:
            # The convolution below handed up the window and its flanks: the window
            # starts stride - 1 - phase positions into v.
            window = _shift(v, phase - (stride - 1), level.window, range(1 - stride, 1))
        else:
            offset = kernel - stride + phase
            placed = _shift(v, offset, level.window, range(kernel - stride, kernel))
            u = _iota(level.window)
            inside = (u >= offset[:, None]) & (u < offset[:, None] + v.shape[1])
            window = ops.where(inside[..., None], placed, _rows(ref[0], seq, t))
        window = ops.where(in_range[..., None], window, 0.0)  # the layer's zero padding
        y = _window_call(layer, window)
    for pointwise in stage.after:
        y = pointwise.layer(y, training=False)
    return y


def _splice(top_ref, seq, start, values):
    """(B, T, C): ``top_ref[seq]`` with ``values`` (B, W, C) over [start, start + W)."""
    index = _iota(top_ref.shape[1]) - start[:, None]
    inside = (index >= 0) & (index < values.shape[1])
    rows = _rows(values, ops.arange(ops.shape(values)[0], dtype="int32"), index)
    return ops.where(inside[..., None], rows, ops.take(top_ref, seq, axis=0))


# ---- AF on the constant all-zero background

def _constant_runs(array):
    """Prefix counts of the positions of a (1, P, C) reference that differ from its centre."""
    a = np.asarray(array)[0]
    same = np.all(a == a[len(a) // 2], axis=-1)
    return np.concatenate([[0], np.cumsum(~same)])


def _all_constant(prefix, lo, width):
    """[lo, lo + width) lies in range and every reference row there equals the centre one."""
    length = len(prefix) - 1
    hi = lo + width
    inside = (lo >= 0) & (hi <= length)
    return inside & (prefix[np.clip(hi, 0, length)] - prefix[np.clip(lo, 0, length)] == 0)


def _interior_test(stage, ref):
    """fn(pos) -> bool (n,): the stage reads only constant, in-range reference values.

    On a constant background (AF's all-zero sequence) the new values of such
    a perturbation depend only on its input values and its phase against the
    stride, not on where it is, so those perturbations share one computation.
    """
    level = stage.level
    if stage.kind == "change":
        runs = _constant_runs(ref[0])
        return lambda pos: _all_constant(runs, pos, level.width_in)
    if stage.kind == "combine":
        runs = _constant_runs(ref[0])
        return lambda pos: _all_constant(runs, pos - level.out_left, level.out_width)

    def start(pos):
        return _first_output(level, pos) * level.stride - level.left_pad

    if level.in_left:
        return lambda pos: (start(pos) >= 0) & (start(pos) + level.window <= level.length_in)
    runs = _constant_runs(ref[0])
    return lambda pos: _all_constant(runs, start(pos), level.window)


@dataclasses.dataclass
class _SharedRows:
    """AF's rows at each stage: the (k-mer, position) pairs grouped by what they compute.

    Attributes:
        first: per stage, bool (n_pairs,): the pair is the first of its row
            (rows are numbered in order of first pair; pairs sorted by k-mer,
            so a k-mer's rows are contiguous and belong to it alone).
        parent: per stage, int64 (n_rows,): the row of the stage below (for
            the first stage, the k-mer) each row takes its input from.
        position: per stage, int64 (n_rows,): ``_stage_position`` of the row.
        head_row: int64 (n_pairs,): the last stage's row of each pair.
        head_start: int64 (n_pairs,): the position of its values in the top.
    """

    first: list
    parent: list
    position: list
    head_row: np.ndarray
    head_start: np.ndarray


def _shared_rows(stages, tests, motif_of, pos_of):
    """Groups AF pairs, stage by stage, by (row below, phase, position unless interior)."""
    key, s = np.asarray(motif_of, np.int64), np.asarray(pos_of, np.int64)
    first, parent, position = [], [], []
    for stage, test in zip(stages, tests):
        level = stage.level
        pos = _stage_position(stage, s)
        if stage.kind == "window":
            j_lo = _first_output(level, pos)
            phase = pos + level.left_pad - level.kernel - (j_lo - 1) * level.stride
        else:
            j_lo, phase = pos, 0
        where = np.where(test(pos), pos.min() - 1, pos) - (pos.min() - 1)
        code = (key * level.stride + phase) * (int(where.max()) + 1) + where
        ids = pd.factorize(code)[0].astype(np.int64)
        is_first = np.ones(len(ids), bool)
        is_first[1:] = ids[1:] > np.maximum.accumulate(ids)[:-1]
        rows = np.flatnonzero(is_first)
        first.append(is_first)
        parent.append(key[rows])
        position.append(pos[rows])
        key = ids
        s = j_lo if stage.kind != "change" else s
    last_left = stages[-1].level.out_left if stages else 0
    return _SharedRows(first, parent, position, key, s - last_left)


class MotifScorer:
    """Fast engine for DeepASMM's perturbations (same results as the naive one).

    * Batched, compiled evaluation: fixed-shape batches of perturbations go
      through functions compiled once with XLA (``tf.function(jit_compile=
      True)``); no full perturbed sequence is ever built.
    * Reuse of unchanged computation (fastISM, Nair et al. 2022): the
      longest chain of local layers after the input (``Conv1D`` with any
      padding/dilation, valid ``MaxPooling1D``/``AveragePooling1D``, and
      point-wise layers: BatchNormalization, Activation, Dropout, ReLU, ...)
      is the *stem*. Its activations on the unperturbed sequences are cached;
      a perturbation of k positions changes only a window of each stem layer,
      computed from the window below and spliced into the cached top
      activation, on which the rest of the model (the *head*: flatten/dense,
      global pooling, attention, ...) runs. A stride-1 convolution is linear
      before its activation, so its window is the cached pre-activation plus
      the convolution of the input *change* (products with the kernel's
      band matrix, see `_conv_change`); it hands the next pool its whole window,
      flanks included, so flanks are never gathered and merged; a pool or
      strided convolution takes its window from that by the perturbation's
      phase against its stride (static slices and a select, no gather).
      Out-of-range positions are the layers' zero padding: the result is
      exact up to float round-off. A model with no such stem (or not taking
      (L, 4) input) is evaluated in full, still batched and compiled.
    * SCS: perturbations sorted by (sequence, position), so a batch reads
      the cached activations of a few sequences; sequences processed in
      blocks of ``block_bytes`` of cached activations.
    * AF: perturbations deduplicated by (k-mer, position); and, the all-zero
      background being constant, translation is exploited: at each stage of
      the stem, the pairs of one k-mer whose window reads only constant,
      in-range cached values and that share their phase against the strides
      below share one row (in the Basset demo the second convolution, the
      costliest layer, runs about once per (8-mer, position mod 3) and per
      pair near the sequence ends: 115,510 rows for 690,230 pairs, where the
      naive engine runs 716,432); a convolution's change is shared whenever
      its input change is, even where the cached output it is added to is
      not constant (near the sequence ends). Rows are grouped on the host;
      one compiled call evaluates all stages and the head for a chunk of
      whole k-mers, gathering each stage's input rows from the stage below.
    * Progress bars over perturbations (``verbose=1``).

    Args:
        model: `keras.Model` taking one-hot sequences.
        output_index: int, sequence of int or None (all outputs).
        batch_size: int. Perturbations per compiled call (SCS), (k-mer,
            position) pairs per compiled call (AF).
        block_bytes: int. Budget for the cached activations of one block of
            sequences (SCS).
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
        stages = _stages(levels)
        model = self.model
        if levels:
            head_model = keras.Model(top, model.outputs, name="head")
            head = lambda full: _flat_outputs(head_model(full, training=False))  # noqa: E731
            needed = [stage.level.layer.input for stage in stages
                      if (stage.kind == "change" or (stage.kind == "window" and not
                                                     stage.level.in_left))
                      and stage.level.layer.input is not model.inputs[0]]
            # A convolution without activation outputs its pre-activation: cache it as is.
            needed += [stage.level.layer.output for stage in stages
                       if stage.kind == "combine" and _is_linear_activation(stage.level.layer)]
            cache_model = keras.Model(model.inputs, needed + [top], name="stem_cache")
            top_length, top_channels = top.shape[1], top.shape[2]
        else:
            head = lambda full: _flat_outputs(model(adapt(full), training=False))  # noqa: E731
            needed, cache_model, top_length, top_channels = [], None, length, 4
        last_left = stages[-1].level.out_left if stages else 0

        def perturbed(refs, top_ref, seq, pos, values):
            s, v = pos, values
            for stage, ref in zip(stages, refs):
                v = _stage_call(stage, ref, seq, _stage_position(stage, s), v)
                if stage.kind != "change":
                    s = _first_output(stage.level, s)
            return head(_splice(top_ref, seq, s - last_left, v))

        def shared(refs, top_ref, kmers, parents, positions, head_rows, head_start):
            v = kmers
            for stage, ref, parent, pos in zip(stages, refs, parents, positions):
                v = _stage_call(stage, ref, ops.zeros_like(pos), pos, ops.take(v, parent, axis=0))
            return head(_splice(top_ref, ops.zeros_like(head_start), head_start,
                                ops.take(v, head_rows, axis=0)))

        plan = dict(levels=levels, stages=stages, cache_model=cache_model, needed=needed,
                    top_length=top_length, top_channels=top_channels, k=k, length=length,
                    perturbed=_maybe_compile(perturbed), shared=_maybe_compile(shared),
                    # Whole sequences: the model's own kernels (oneDNN), no XLA compilation.
                    full=_maybe_compile(lambda x: _flat_outputs(model(adapt(x), training=False)),
                                        jit=False))
        self._plans[key] = plan
        return plan

    # ---- reference activations
    def _references(self, plan, x):
        """Cached reference arrays of each stage of the stem, and its top, for x.

        Per stage, a tuple: change: (layer input,); combine: (pre-activation
        output,); pool or strided convolution: () when fed by a convolution's
        window, else (layer input,).
        """
        x = ops.convert_to_tensor(x)
        if not plan["stages"]:
            return [], x
        outs = plan["cache_model"](x, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        values = {id(t): out for t, out in zip(plan["needed"], outs)}
        values[id(self.model.inputs[0])] = x
        refs = []
        for stage in plan["stages"]:
            level = stage.level
            if stage.kind == "change" or (stage.kind == "window" and not level.in_left):
                refs.append((values[id(level.layer.input)],))
            elif stage.kind == "combine" and _is_linear_activation(level.layer):
                refs.append((values[id(level.layer.output)],))
            elif stage.kind == "combine":
                layer, ref_in = level.layer, refs[-1][0]
                right = level.length_out - 1 + level.kernel - level.length_in - level.left_pad
                pre = ops.conv(ops.pad(ref_in, ((0, 0), (level.left_pad, right), (0, 0))),
                               layer.kernel, strides=1, padding="valid",
                               dilation_rate=layer.dilation_rate[0])
                refs.append((pre + layer.bias if layer.use_bias else pre,))
            else:
                refs.append(())
        return refs, outs[-1]

    def _cache_bytes(self, plan):
        per_seq = plan["top_length"] * plan["top_channels"]
        for stage in plan["stages"]:
            level = stage.level
            if stage.kind == "change" or (stage.kind == "window" and not level.in_left):
                per_seq += level.length_in * level.layer.input.shape[-1]
            elif stage.kind == "combine":
                per_seq += level.length_out * level.layer.filters
        return 4 * per_seq

    def _size(self, n):
        """Rows per compiled call: the batch size, or less (a power of 2) for small jobs."""
        return max(1, min(self.batch_size, 2 ** math.ceil(math.log2(max(n, 1)))))

    def predict(self, x):
        """(n, n_selected_outputs) float64 predictions of the (linearised) model."""
        x = np.asarray(x, np.float32)
        plan = self._plan(1, x.shape[1])
        ys = [np.asarray(plan["full"](ops.convert_to_tensor(x[i:i + self.batch_size])))
              for i in range(0, len(x), self.batch_size)]
        return _select(np.concatenate(ys), self.output_index)

    def _scs(self, plan, x, seq, pos, verbose):
        """Predictions with the k positions from ``pos`` of sequence ``seq`` zeroed.

        Sequences are processed in equal blocks (the last one zero-padded) and
        perturbations, sorted by (sequence, position), in equal batches (the
        last one padded by repeating a row), so the compiled function sees
        one shape.
        """
        n, k = len(seq), plan["k"]
        out = None
        block = max(1, min(len(x), self.block_bytes // max(1, self._cache_bytes(plan))))
        block = -(-len(x) // -(-len(x) // block))  # equal blocks, the last one barely padded
        order = np.lexsort((pos, seq))
        bounds = np.searchsorted(seq[order], np.arange(0, len(x) + block, block))
        size = self._size(n)
        zeros = ops.zeros((size, k, 4), "float32")
        with tqdm(total=n, disable=not verbose, desc="SCS", unit="perturbation",
                  mininterval=1.0) as bar:
            for b, s0 in enumerate(range(0, len(x), block)):
                rows = order[bounds[b]:bounds[b + 1]]
                if not len(rows):
                    continue
                x_block = x[s0:s0 + block]
                if len(x_block) < block:
                    x_block = np.concatenate([x_block, np.zeros((block - len(x_block),) +
                                                                x_block.shape[1:], x_block.dtype)])
                refs, top = self._references(plan, x_block)
                for lo in range(0, len(rows), size):
                    chunk = rows[lo:lo + size]
                    padded = np.concatenate([chunk, np.full(size - len(chunk), chunk[-1])])
                    y = plan["perturbed"](
                        refs, top, ops.convert_to_tensor((seq[padded] - s0).astype(np.int32)),
                        ops.convert_to_tensor(pos[padded].astype(np.int32)), zeros)
                    y = np.asarray(y)[:len(chunk)]
                    if out is None:
                        out = np.zeros((n, y.shape[1]), np.float64)
                    out[chunk] = y
                    bar.update(len(chunk))
        return _select(out, self.output_index)

    def _af(self, plan, motifs, motif_of, pos_of, verbose):
        """Predictions with k-mer ``motif_of`` at ``pos_of`` of an all-zero sequence.

        Pairs sorted by (k-mer, position), grouped into shared rows per stage
        (`_shared_rows`), evaluated in chunks of whole k-mers: at most
        ``size`` pairs and, per stage, at most its capacity of rows (the
        stage's share of rows per pair, with 10 % to spare, rounded up to a
        sixteenth of ``size`` so that similar jobs compile once).
        """
        stages = plan["stages"]
        refs, top = self._references(plan, np.zeros((1, plan["length"], 4), np.float32))
        tests = [_interior_test(stage, ref) for stage, ref in zip(stages, refs)]
        rows = _shared_rows(stages, tests, motif_of, pos_of)
        n = len(motif_of)
        bounds = np.flatnonzero(np.r_[True, motif_of[1:] != motif_of[:-1], True])
        size = max(self._size(n), int(np.diff(bounds).max()))
        counts = [np.concatenate([[0], np.cumsum(first)]) for first in rows.first]
        capacity = []
        for count in counts:
            per_kmer = int(np.diff(count[bounds]).max())
            share = math.ceil(16 * min(1.0, 1.1 * count[-1] / n)) / 16
            capacity.append(max(per_kmer, math.ceil(share * size)))
        kmers = ops.convert_to_tensor(np.asarray(motifs, np.float32))
        out = None
        with tqdm(total=n, disable=not verbose, desc="AF", unit="perturbation",
                  mininterval=1.0) as bar:
            lo = 0
            while lo < n:
                limit = lo + size
                for count, cap in zip(counts, capacity):
                    limit = min(limit, np.searchsorted(count, count[lo] + cap, side="right") - 1)
                hi = bounds[np.searchsorted(bounds, limit, side="right") - 1]
                parents, positions = [], []
                offset = 0
                for count, cap, parent, position in zip(counts, capacity, rows.parent,
                                                        rows.position):
                    a, b = count[lo], count[hi]
                    parents.append(_padded(parent[a:b] - offset, cap))
                    positions.append(_padded(position[a:b], cap))
                    offset = a
                y = plan["shared"](refs, top, kmers, parents, positions,
                                   _padded(rows.head_row[lo:hi] - offset, size),
                                   _padded(rows.head_start[lo:hi], size))
                y = np.asarray(y)[:hi - lo]
                if out is None:
                    out = np.zeros((n, y.shape[1]), np.float64)
                out[lo:hi] = y
                bar.update(hi - lo)
                lo = hi
        self._last_stage_rows = [int(count[-1]) for count in counts]
        return _select(out, self.output_index)

    def score(self, x, occurrences, verbose=0):
        """Per-occurrence SCS and AF scores (see :class:`NaiveMotifScorer`).

        Args:
            x: float32 (n, L, 4) one-hot of the sequences.
            occurrences: `KmerOccurrences` located in those sequences.
            verbose: int. 1 shows progress bars.

        Returns:
            `PerturbationScores`; ``forward_rows["af"]`` is the number of
            distinct (k-mer, position) pairs evaluated (by the head), and
            ``forward_rows["af_stages"]`` the rows computed at each stage of
            the stem.
        """
        x = _check_inputs(x, occurrences)
        k, length = occurrences.k, x.shape[1]
        plan = self._plan(k, length)
        n = len(occurrences)
        if n == 0:
            return PerturbationScores(np.zeros(0), np.zeros(0), {"scs": 0.0, "af": 0.0},
                                      {"scs": 0, "af": 0, "af_stages": []})
        seconds = {}
        start = time.perf_counter()
        y_native = self.predict(x)
        y = self._scs(plan, x, occurrences.sequence_index, occurrences.position, verbose)
        scs = _relative_change(y_native[occurrences.sequence_index], y)
        seconds["scs"] = time.perf_counter() - start

        start = time.perf_counter()
        pair = occurrences.motif_index * length + occurrences.position
        unique_pair, inverse = np.unique(pair, return_inverse=True)  # sorted by (k-mer, position)
        y_zero = self.predict(np.zeros((1, length, 4), np.float32))
        y = self._af(plan, occurrences.one_hot_kmers(), unique_pair // length,
                     unique_pair % length, verbose)
        af = _relative_change(y_zero, y)[inverse.ravel()]
        seconds["af"] = time.perf_counter() - start
        return PerturbationScores(scs, af, seconds, {"scs": n, "af": len(unique_pair),
                                                     "af_stages": self._last_stage_rows})


def _padded(index, size):
    """int32 tensor of ``index`` padded to ``size`` by repeating its first value (or 0)."""
    fill = index[0] if len(index) else 0
    return ops.convert_to_tensor(np.concatenate([index, np.full(size - len(index), fill)])
                                 .astype(np.int32))


class _Compiled:
    """A function compiled once with XLA (``jit_compile``), else as a plain graph.

    XLA fuses the engine's gathers, selects and small products (several times
    faster on CPU than the plain graph); a model with an operation XLA cannot
    compile falls back to ``tf.function`` without it (``jit=False``: always).
    Other backends run eagerly.
    """

    def __init__(self, fn, jit=True):
        self.fn = fn
        self.jit = self.plain = None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # tf.function counts retracing per code object: the engine's closures share
            # theirs, so each compiled function gets its own callable.
            if jit:
                self.jit = tf.function(_Callable(fn), jit_compile=True, reduce_retracing=True)
            self.plain = tf.function(_Callable(fn), reduce_retracing=True)

    def __call__(self, *args):
        if self.jit is not None:
            try:
                return self.jit(*args)
            except Exception:  # noqa: BLE001 - XLA raises several error types; plain re-raises real ones
                self.jit = None
        return self.plain(*args) if self.plain is not None else self.fn(*args)


class _Callable:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


def _maybe_compile(fn, jit=True):
    return _Compiled(fn, jit)


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
