"""Demo: score real RNA windows with VQ-RNA and draw their ISM logo.

Takes a few real windows of one modification from the VQ-RNA valid split
(positives and negatives), scores them with the multi-task ``rnamod-vqrna``
preset that ships with deepbio (no training; or ``--model`` a model trained by
``python main.py --task rnamod``, e.g. ``runs/rnamod/Am/model.keras``; with ``--train-quick`` it first trains a small model on a slice of the train
split, a minute on a CPU), prints the probabilities, and runs batched in-silico
saturation mutagenesis over the positives to draw their importance profile and
logo (logomaker).

    python demo/rnamod/score_windows.py [--modification Am] [--model runs/rnamod/Am/model.keras]
                                        [--output runs/demo_rnamod] [--windows 4]
"""

import argparse
from pathlib import Path

import keras
import numpy as np

from deepbio.rnamod.data import load_rnamod, one_hot_rna
from deepbio.interpret.ism import ism_importance, plot_ism, saturation_mutagenesis
from deepbio.rnamod import task as rnamod
from deepbio.rnamod.training import train_model


def quick_model(modification, data_dir, length, windows=600, epochs=2, seed=0):
    """A small VQ-RNA trained on a stratified slice of the train split (for the demo only)."""
    config = rnamod.RNAModConfig.for_profile(
        "cpu", modifications=(modification,), sequence_length=length, epochs=epochs, seed=seed,
        max_windows=windows, encoder_filters=(64, 128), num_embeddings=128)
    keras.utils.set_random_seed(seed)
    train = rnamod._split(config, "train", modification, data_dir)
    valid = rnamod._split(config, "valid", modification, data_dir)
    model, info = train_model(
        config, [modification], one_hot_rna(train.sequences), train.labels[:, None].astype("float32"),
        one_hot_rna(valid.sequences), valid.labels[:, None].astype("float32"), verbose=0)
    print(f"quick model: {len(train.labels)} training windows, {info['epochs_run']} epochs, "
          f"valid AUROC {info['best_val_auroc']:.3f}")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modification", default="Am")
    parser.add_argument("--model", default=None,
                        help="a VQ-RNA .keras model (default: the rnamod-vqrna preset)")
    parser.add_argument("--train-quick", action="store_true",
                        help="train a small model on a slice of the data instead of loading one")
    parser.add_argument("--output", default="runs/demo_rnamod")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--windows", type=int, default=4, help="positives (and as many negatives)")
    parser.add_argument("--length", type=int, default=101, help="window length for --train-quick")
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    if args.train_quick:
        model = quick_model(args.modification, args.data_dir, args.length)
    else:
        if args.model is None:
            from deepbio.presets import get

            preset = get("rnamod-vqrna")
            path = preset.model_path() / preset.meta["keras_model"]
        else:
            path = Path(args.model)
        if not path.is_file():
            raise SystemExit(f"{path} not found: train with `python main.py --task rnamod` "
                             "or pass --train-quick")
        model = keras.models.load_model(path, compile=False)
        if args.modification not in model.modification_names:
            raise SystemExit(f"{path} has no {args.modification} head; it has "
                             f"{', '.join(model.modification_names)}")
    valid = load_rnamod("valid", args.modification, model.sequence_length, args.data_dir)
    rng = np.random.default_rng(0)
    picks = np.concatenate([rng.choice(np.flatnonzero(valid.labels == label), args.windows,
                                       replace=False) for label in (1, 0)])
    x = one_hot_rna([valid.sequences[i] for i in picks])
    classifier = model.classifier()
    column = model.modification_names.index(args.modification)
    scores = classifier.predict(x, verbose=0)[:, column]
    centre = model.sequence_length // 2
    print(f"{'record':<22} {'label':>5} {'P(' + args.modification + ')':>9}  site ±5 nt")
    for i, score in zip(picks, scores):
        print(f"{valid.ids[i]:<22} {valid.labels[i]:>5} {score:>9.3f}  "
              f"{valid.sequences[i][centre - 5:centre + 6]}")
    positives = x[:args.windows]
    attributions = saturation_mutagenesis(classifier, positives, output_index=column)
    files = plot_ism(attributions, positives, out, args.modification, flank=15)
    importance = ism_importance(attributions)
    top = np.argsort(-importance)[:5] - centre
    print(f"ISM over {len(positives)} positive windows: most important positions (relative to the "
          f"site) {top.tolist()}")
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
