"""The PTM task's benchmark workload (`Task.benchmark`; ``benchmarks/gpu_check.py``)."""

import keras
import numpy as np

from deepbio.core.benchmarking import PROTEIN, examples, fit_for, random_sequences
from deepbio.ptm.protocol import model_inputs
from deepbio.ptm.training import _loss, build_classifier


def workload(config, rng, seconds):
    """The OmniK-PTM network (`deepbio.ptm.training.build_classifier`), compiled as `train_model`."""
    n = examples(config.batch_size)
    windows = [w[:24] + "K" + w[25:] for w in random_sequences(rng, n, 49, PROTEIN)]
    residues = model_inputs(config, "network", windows)
    pstaap = rng.normal(size=(n, 46, 1)).astype(np.float32)
    labels = (rng.random((n, 4)) < 0.3).astype(np.float32)
    labels[labels.sum(axis=1) == 0, 0] = 1.0  # every window carries a modification
    model = build_classifier(config, residues.shape[-1])
    model.compile(
        optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay),
        loss=_loss(config, labels), metrics=[keras.metrics.AUC(multi_label=True, name="auroc")],
        jit_compile=config.keras_jit_compile())
    inputs = {"pstaap": [config.batch_size, 46, 1], "residues": [config.batch_size, 49,
                                                                 int(residues.shape[-1])]}
    return fit_for(model, (pstaap, residues), labels, config.batch_size, seconds, inputs)


workload.config_changes = {"model_type": "network"}  # the network is what a GPU trains
