"""The RNA-modification task's benchmark workload (`Task.benchmark`; ``benchmarks/gpu_check.py``)."""

import numpy as np

from deepbio.core.benchmarking import examples, fit_for, random_sequences
from deepbio.rnamod.data import one_hot_rna
from deepbio.rnamod.model import vqrna_from_config
from deepbio.rnamod.training import compile_model


def workload(config, rng, seconds):
    """One VQ-RNA model (`vqrna_from_config`, one head as upstream), compiled by `compile_model`."""
    n = examples(config.batch_size)
    x = one_hot_rna(random_sequences(rng, n, config.sequence_length, "ACGU")).astype(np.float32)
    y = (rng.random((n, 1)) < 0.5).astype(np.float32)
    model = compile_model(vqrna_from_config(config, ["Am"]), config)
    model(x[:2])
    inputs = {"one_hot": [config.batch_size, config.sequence_length, 4]}
    return fit_for(model, x, {"modification": y, "reconstruction": x}, config.batch_size, seconds,
                inputs)
