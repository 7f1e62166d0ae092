"""What both DeepASMM scoring engines share: linear outputs, input layout, the score.

Part of the reimplementation of DeepASMM (Li et al., "DeepASMM: Decoding
Cis-Regulatory Mechanisms via Quantification of Motif Autonomy and Contextual
Synergy", https://github.com/Jie-Lii/DeepASMM, commit 0f35ebb; the method is
summarised in :mod:`deepbio.motif.aggregate`). Used by the reference
engine (:mod:`deepbio.motif.naive`) and the fast one
(:mod:`deepbio.motif.fast`):

* :func:`linear_output_model`: the model with its output activations made
  linear (upstream's ``tf_model_loder`` sets ``model.layers[-1].activation =
  linear``);
* the adapter from ``(batch, L, 4)`` one-hot to the model's input layout,
  the flattening and selection of outputs, and the input checks;
* the score of one perturbation, ``Σ_outputs |(y_ref − y_pert) / (y_ref +
  1e-8)|`` (``_relative_change``, with upstream's :data:`EPSILON`), and the
  per-occurrence result, :class:`PerturbationScores`.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
from keras import ops

__all__ = ["EPSILON", "PerturbationScores", "linear_output_model"]

EPSILON = 1e-8  # upstream's guard in (y_ref - y) / (y_ref + 1e-8)


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
