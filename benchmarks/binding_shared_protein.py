"""Speed of the shared-protein fast path vs the plain padded forward (ProNAB ΔG fine-tuning).

Both paths train the same isolated-protein backbone (identical outputs, checked
here); the plain path recomputes every protein for every complex and pads all
inputs of a batch together, the fast path runs each protein of a batch once
(`MultiomicBackbone.encode_shared_prefix`). Run by hand:

    DEEPBIO_DATA=../shared/data python benchmarks/binding_shared_protein.py [--preset tiny]
        [--max-protein-length 512] [--complexes 1200]

Prints seconds per training epoch of each path and the ratio, measured in the
same run (note the machine load beside them).
"""

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from deepbio.multiomic.pronab import load_pronab, subset_complexes  # noqa: E402
from deepbio.multiomic.binding_model import BindingAffinityRegressor  # noqa: E402
from deepbio.multiomic.builders import build_backbone, clone_backbone, make_tokenizer
from deepbio.multiomic import binding_task as binding  # noqa: E402
from deepbio.multiomic.fine_tuning import (batch_rows, encode_complexes, make_batch,  # noqa: E402
                                          regression_step_functions)
from deepbio.core.optimizers import warmup_cosine_adamw  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--max-protein-length", type=int, default=512)
    parser.add_argument("--complexes", type=int, default=1200, help="complexes trained on (a subset)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print("load:", os.getloadavg())
    tokenizer = make_tokenizer()
    frame = subset_complexes(load_pronab().frame, args.complexes, 0)
    encoded = encode_complexes(frame, tokenizer, args.max_protein_length)
    dg = frame["dg"].to_numpy()
    rows = np.arange(len(frame))
    config = dataclasses.replace(binding.BindingConfig(), preset=args.preset, epochs=1,
                                 batch_size=args.batch_size,
                                 max_protein_length=args.max_protein_length)
    import keras

    keras.utils.set_random_seed(0)
    template = build_backbone(config, tokenizer)
    results = {}
    for name, shared in (("shared_protein", True), ("plain_padded", False)):
        backbone = clone_backbone(template, True, tokenizer)
        model = BindingAffinityRegressor(backbone, float(dg.mean()), float(dg.std()))
        model.head.kernel.assign(np.random.default_rng(0).normal(
            size=model.head.kernel.shape).astype("float32"))
        train_step, predict_step = regression_step_functions(
            model, shared, [(warmup_cosine_adamw(1e-3, 100, 0.05, 0.0), model.trainable_variables)])
        # the same protein-grouped batches for both paths (the plain path gains nothing from
        # them except less padding of the proteins)
        train_step_batches = batch_rows(encoded, rows, args.batch_size, np.random.default_rng(0),
                                        True)
        first = make_batch(encoded, train_step_batches[0], tokenizer, shared, dg)
        y = first.pop("y")
        check = np.asarray(predict_step(first))
        train_step(first, y)  # trace
        start = time.perf_counter()
        for chunk in train_step_batches:
            batch = make_batch(encoded, chunk, tokenizer, shared, dg)
            y = batch.pop("y")
            train_step(batch, y)
        results[name] = (time.perf_counter() - start, check, train_step_batches[0])
        print(f"{name}: {results[name][0]:.1f} s per epoch of {len(frame)} complexes "
              f"({len(train_step_batches)} batches)", flush=True)
    # same model, same first batch: outputs of the two paths must agree
    fast, slow = results["shared_protein"], results["plain_padded"]
    same_batch = np.array_equal(fast[2], slow[2])
    print(f"plain / shared time ratio: {slow[0] / fast[0]:.2f}x; load: {os.getloadavg()}")
    if same_batch:
        print(f"max |difference| of initial predictions: {np.abs(fast[1] - slow[1]).max():.2e}")


if __name__ == "__main__":
    main()
