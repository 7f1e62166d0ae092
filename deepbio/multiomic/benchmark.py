"""The multi-omic tasks' benchmark workloads (`Task.benchmark`; ``benchmarks/gpu_check.py``)."""

import numpy as np
import pandas as pd

from deepbio.core.benchmarking import PROTEIN, clocked_loop, examples, random_sequences
from deepbio.multiomic import fine_tuning
from deepbio.multiomic import pretraining as masked_lm
from deepbio.multiomic.builders import build_backbone, make_tokenizer
from deepbio.multiomic.masked_lm import MultiomicMaskedLM


def pretrain_workload(config, rng, seconds):
    """`MultiomicMaskedLM` trained by `train_masked_lm` (its step clocked) on full-length crops."""
    n = examples(config.batch_size)
    length = config.crop_length + 16  # every crop is full length
    kinds = [("protein", PROTEIN), ("DNA", "ACGT"), ("RNA", "ACGU")]
    modality = [kinds[i][0] for i in rng.integers(0, 3, n)]
    corpus = pd.DataFrame({
        "sequence": [random_sequences(rng, 1, length, dict(kinds)[m])[0] for m in modality],
        "modality": modality, "source": "synthetic"})
    tokenizer = make_tokenizer()
    content, tag_ids = masked_lm.encode_corpus(corpus, tokenizer)
    backbone = build_backbone(config, tokenizer)
    model = MultiomicMaskedLM(backbone, name="multiomic_masked_lm")
    clock = clocked_loop(masked_lm, "mlm_step_functions", seconds, lambda endless: (
        masked_lm.train_masked_lm(model, content, tag_ids, np.arange(n), endless, tokenizer,
                                  np.random.default_rng(config.seed), verbose=0)), config)
    inputs = {"token_ids": [config.batch_size, config.crop_length + 3]}
    return clock.measurement(inputs)




def binding_workload(config, rng, seconds, partners=4):
    """`BindingAffinityRegressor` on a fresh backbone, trained by `fine_tune` (its step clocked).

    Proteins are ``max_protein_length`` residues, each bound by ``partners``
    24-bp double-stranded DNAs; the CPU profile's isolated protein takes the
    shared-protein path, the GPU profile's full attention plain padded batches.
    """
    n = examples(config.batch_size)
    proteins = random_sequences(rng, -(-n // partners), config.max_protein_length, PROTEIN)
    strands = random_sequences(rng, n, 24, "ACGT")
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    frame = pd.DataFrame({
        "accession": [f"P{i // partners:05d}" for i in range(n)],
        "protein": [proteins[i // partners] for i in range(n)], "nucleic_acid": strands,
        "type": "DNA", "complementary": ["".join(complement[b] for b in s[::-1]) for s in strands],
        "dg": rng.normal(-9.0, 1.5, n), "group": [i // partners for i in range(n)]})
    tokenizer = make_tokenizer()
    encoded = fine_tuning.encode_complexes(frame, tokenizer, config.max_protein_length)
    backbone = build_backbone(config, tokenizer)
    clock = clocked_loop(fine_tuning, "regression_step_functions", seconds, lambda endless: (
        fine_tuning.fine_tune(backbone, encoded, frame["dg"].to_numpy(), np.arange(n), endless,
                              tokenizer, verbose=0)), config)
    tokens = 1 + config.max_protein_length + 2 + 2 * (24 + 2)
    shared = backbone.isolated_segment_token_id is not None
    inputs = {"token_ids": [config.batch_size, tokens],
              "path": "shared-protein batches" if shared else "plain padded batches"}
    return clock.measurement(inputs)
