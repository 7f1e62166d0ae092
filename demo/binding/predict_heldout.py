"""ΔG of real ProNAB complexes beside the measured values: the preset, or held-out proteins.

By default the ``binding-dg`` preset that ships with deepbio predicts a
sample of ProNAB complexes (no training). The preset was fitted on all of
ProNAB, so these are in-sample predictions: the demo shows the interface,
and the honest error is its card's protein-grouped cross-validation (MAE
1.56 kcal/mol). For held-out proteins: with ``--run runs/binding`` (a
``main.py --task binding`` output) the fold-1 model (``model_fold1.keras``,
fine-tuned without fold 1's proteins) predicts complexes of fold 1's
proteins; with ``--train-here`` the demo fine-tunes a small model itself on
the proteins of folds 2–10 (protein-grouped split, no pre-training, a few
minutes on a CPU) and predicts fold 1.

    python demo/binding/predict_heldout.py [--run runs/binding | --train-here] [--examples 10]
"""

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a binding output folder with model_fold1.keras, folds.csv")
    parser.add_argument("--examples", type=int, default=10, help="complexes printed")
    parser.add_argument("--train-here", action="store_true",
                        help="fine-tune a small model on folds 2-10 and predict fold 1")
    parser.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs (--train-here)")
    parser.add_argument("--max-complexes", type=int, default=None,
                        help="train on a protein-grouped subset (no --run; quick runs)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from deepbio.multiomic.pronab import load_pronab, protein_grouped_folds, subset_complexes
    from deepbio.metrics import regression_metrics
    from deepbio.multiomic.builders import build_backbone, make_tokenizer
    from deepbio.multiomic import binding_task as binding
    from deepbio.multiomic.fine_tuning import encode_complexes, fine_tune

    tokenizer = make_tokenizer()
    frame = load_pronab(args.data_dir).frame
    if args.run:
        run = Path(args.run)
        folds = pd.read_csv(run / "folds.csv", keep_default_na=False)
        params = json.loads((run / "params.json").read_text())
        frame = frame.merge(folds[["accession", "nucleic_acid", "type", "complementary", "fold"]],
                            on=["accession", "nucleic_acid", "type", "complementary"])
        held = frame[frame["fold"] == 1]
        model = keras.models.load_model(run / "model_fold1.keras")
        max_length = params["max_protein_length"]
        train_mean = float(frame.loc[frame["fold"] != 1, "dg"].mean())
        source = f"{run}/model_fold1.keras"
    elif not args.train_here:
        from deepbio.presets import get

        preset = get("binding-dg")
        model = keras.models.load_model(preset.model_path() / preset.meta["keras_model"])
        max_length = json.loads((preset.path / "params.json").read_text())["max_protein_length"]
        held = frame.sample(min(200, len(frame)), random_state=args.seed)
        train_mean = float(frame["dg"].mean())
        source = (f"the {preset.name} preset; IN-SAMPLE: it was fitted on all of ProNAB, its "
                  f"protein-grouped CV MAE is in its card")
    else:
        frame = subset_complexes(frame, args.max_complexes, args.seed)
        train, test = protein_grouped_folds(frame["group"].to_numpy(), 10, args.seed)[0]
        config = dataclasses.replace(binding.BindingConfig(), epochs=args.epochs, seed=args.seed)
        keras.utils.set_random_seed(args.seed)
        encoded = encode_complexes(frame, tokenizer, config.max_protein_length)
        print(f"fine-tuning a '{config.preset}' backbone from scratch on {len(train)} complexes of "
              f"{frame['group'].iloc[train].nunique()} proteins ({args.epochs} epochs)...", flush=True)
        model, _, _ = fine_tune(build_backbone(config, tokenizer), encoded,
                                frame["dg"].to_numpy(), train, config, tokenizer, verbose=0)
        held = frame.iloc[test]
        max_length = config.max_protein_length
        train_mean = float(frame["dg"].iloc[train].mean())
        source = "a model fine-tuned in this demo"
    sequences = [tokenizer.encode_complex(r.protein, r.nucleic_acid, r.type, r.complementary or None,
                                          name=r.accession, max_protein_length=max_length)
                 for r in held.itertuples(index=False)]
    ids, mask = tokenizer.pad(sequences)
    predicted = model.predict({"token_ids": ids, "padding_mask": mask.astype(np.int32)},
                              batch_size=64, verbose=0)[:, 0]
    held = held.assign(predicted=predicted)
    overall = regression_metrics(held["dg"], held["predicted"])
    shown = held.sample(min(args.examples, len(held)), random_state=args.seed)
    held_out = bool(args.run or args.train_here)
    what = "complexes whose proteins were held out of training" if held_out else \
        "sampled ProNAB complexes"
    print(f"\nΔG (kcal/mol) of {what} ({source}):")
    print(f"{'protein':<34} {'accession':<10} {'nucleic acid':<26} {'measured':>9} {'predicted':>9}")
    for r in shown.itertuples(index=False):
        na = r.nucleic_acid if len(r.nucleic_acid) <= 22 else r.nucleic_acid[:19] + "..."
        label = f"{na} ({r.type}{', ds' if r.complementary else ''})"
        print(f"{r.protein_name[:33]:<34} {r.accession:<10} {label:<26} {r.dg:>9.2f} {r.predicted:>9.2f}")
    r = overall["pearson_r"]
    print(f"\nall {overall['n']} {'held-out' if held_out else 'sampled (in-sample)'} complexes: Pearson r = {'n/a' if r is None else f'{r:.3f}'}, "
          f"MAE = {overall['mae']:.2f} kcal/mol (training-mean baseline MAE = "
          f"{np.abs(held['dg'] - train_mean).mean():.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
