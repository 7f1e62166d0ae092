"""Reference engine of DeepASMM motif scoring: upstream's perturbations, literally.

Follows DeepASMM (Li et al., https://github.com/Jie-Lii/DeepASMM, commit
0f35ebb) as written: every occurrence gets one full perturbed sequence
(sequence-context synergy: the native sequence with the occurrence's k
one-hot rows zeroed; autonomous functionality: an all-zero sequence holding
the k-mer at the same position), evaluated by ``model.predict``; nothing is
shared or reused. Slow by design: it is what the fast engine
(:class:`deepbio.motif.fast.MotifScorer`) is tested against, as
fastISM (Nair et al. 2022) keeps its naive ISM beside the fast one. The one
deviation from upstream here (a bug there): SCS compares each perturbation
with the native prediction of the occurrence's sequence (see
:mod:`deepbio.motif.aggregate`).
"""

from __future__ import annotations

import time

import keras
import numpy as np
from tqdm.auto import tqdm

from deepbio.motif.common import (PerturbationScores, _check_inputs, _flat_outputs,
                                            _input_adapter, _relative_change, _select,
                                            linear_output_model)

__all__ = ["NaiveMotifScorer"]


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
