"""Fast engine of DeepASMM motif scoring: :class:`MotifScorer` (fastISM-style reuse).

Computes the same per-occurrence scores as the reference
(:class:`deepbio.motif.naive.NaiveMotifScorer`, which follows
DeepASMM, Li et al., https://github.com/Jie-Lii/DeepASMM, commit 0f35ebb) to
float round-off: XLA-compiled batches; as fastISM (Nair et al. 2022,
"fastISM: performant in silico saturation mutagenesis for convolutional
neural networks", Bioinformatics 38:2397) exploits, the convolutional stem of
the model is recomputed only on the window of each layer that a perturbation
changes (a convolution by adding the convolution of its input's change to
its cached output), spliced into the cached activations of the unperturbed
sequence; AF perturbations deduplicated by (k-mer, position), and their stem
computed once per (k-mer, phase against the strides) wherever it reads only
the constant all-zero background (translation equivariance); memory bounded
by processing sequences and k-mers in blocks. The stem's tracing, geometry
and traced building blocks live in :mod:`deepbio.motif.stem`; the
compiled functions (``_Compiled``) here.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from deepbio.motif.common import (PerturbationScores, _check_inputs, _flat_outputs,
                                            _input_adapter, _relative_change, _select,
                                            linear_output_model)
from deepbio.motif.stem import (_first_output, _interior_test, _is_linear_activation,
                                          _shared_rows, _splice, _stage_call, _stage_position,
                                          _stages, _trace_stem)

__all__ = ["MotifScorer"]


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
