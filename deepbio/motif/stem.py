"""Convolutional stem of a model, traced for the fast DeepASMM engine (fastISM's idea).

As fastISM (Nair et al. 2022, "fastISM: performant in silico saturation
mutagenesis for convolutional neural networks", Bioinformatics 38:2397)
exploits, a perturbation of k positions changes only a window of each
local layer after the input. This module holds the geometry and the traced
building blocks of :class:`deepbio.motif.fast.MotifScorer`, which
scores DeepASMM's perturbations (Li et al., https://github.com/Jie-Lii/DeepASMM,
commit 0f35ebb):

* tracing: :func:`_trace_stem` finds the longest chain of local layers
  (``Conv1D``, valid pooling, point-wise layers) whose top the rest of the
  model (the head) reads alone, with the static window sizes of each layer
  (:class:`_Level`, ``_window_geometry``, ``_set_extents``);
* stages: :func:`_stages` turns the chain into update steps
  (:class:`_Stage`: a stride-1 convolution's change and its combination with
  the cached pre-activation, or a pool / strided convolution recomputed on
  its window), and ``_stage_call`` / ``_splice`` compute them for a batch
  of perturbations and splice the result into the cached top activation;
* AF on the constant all-zero background: ``_interior_test`` and
  ``_shared_rows`` group (k-mer, position) pairs that compute the same rows
  at each stage (translation equivariance).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd
from keras import ops

__all__: list = []  # internal to the fast engine

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
