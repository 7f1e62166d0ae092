"""The motif task's benchmark workload (`Task.benchmark`; ``benchmarks/gpu_check.py``)."""

import keras
import numpy as np

import Feature_extraction_algorithms as fea
from deepbio.core.benchmarking import examples, fit_for, random_sequences
from deepbio.motif.model import basset_cnn


def workload(config, rng, seconds, sequence_length=600):
    """The Basset-style CNN (`deepbio.motif.model.basset_cnn`) on 600-bp one-hot DNA, as `train_basset`."""
    n = examples(config.batch_size)
    x = fea.one_hot(random_sequences(rng, n, sequence_length, "ACGT"), alphabet="dna")
    x = np.asarray(x, np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    model = basset_cnn(sequence_length=sequence_length, filters=config.filters,
                       kernel_sizes=config.kernel_sizes, pool_sizes=config.pool_sizes,
                       dense_units=config.dense_units, dropout=config.dropout)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auroc")],
                  jit_compile=config.keras_jit_compile())
    inputs = {"one_hot": [config.batch_size, sequence_length, 4]}
    return fit_for(model, x, y, config.batch_size, seconds, inputs)
