"""The contact run's report, CSV tables and figures.

Subsets scored: ``all``, ``DNA`` (protein–DNA benchmark), ``RNA`` (PRDBv3.0) and, when ProNAB is
available, ``pronab`` / ``not_pronab`` (proteins ≥ 90 % identical to a ProNAB protein, or not).
The attention analysis is descriptive: the best layer/head is chosen on all residues (no fold).
"""

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from deepbio.multiomic.contacts import figures
from deepbio.multiomic.contacts.evaluation import evaluate_model, top_l_precision
from deepbio.multiomic.contacts.homology import IDENTITY_THRESHOLD, cluster_summary

LABELS = {"finetuned": "fine-tuned token head", "probe": "attention probe",
          "random_probe": "probe, random backbone", "propensity": "residue propensity (LR)"}


def _residue_arrays(state, per_model):
    labels = np.concatenate(state["residue_labels"])
    owner = np.concatenate([np.full(len(y), i) for i, y in enumerate(state["residue_labels"])])
    scores = {m: np.concatenate(v) for m, v in per_model.items()}
    return labels, owner, scores


def _subsets(state, owner):
    ex = state["examples"]
    subsets = {"DNA": np.asarray([ex[i].benchmark == "DNA" for i in owner]),
               "RNA": np.asarray([ex[i].benchmark == "RNA" for i in owner])}
    if state["overlap"] is not None:
        subsets["pronab"] = state["overlap"][owner]
        subsets["not_pronab"] = ~state["overlap"][owner]
    return subsets


def attention_analysis(state):
    """Best attention channel (per-residue AUROC of its max over nucleotides) and top-L.

    Returns:
        dict: ``best_channel`` (index, layer, head, direction, auroc), ``top_l`` and
        ``top_l5`` (mean over examples of the precision of the L and L/5 highest pairs) and
        ``pair_rate`` (mean contact rate of residue–nucleotide pairs: chance precision).
    """
    features, encoded = state["features"], state["encoded"]
    channels = features[0].shape[-1]
    heads = state["backbone"].num_heads
    labels = np.concatenate(state["residue_labels"])
    aurocs = []
    for c in range(channels):
        scores = np.concatenate([e.residue_scores(f[..., c].max(axis=1))
                                 for e, f in zip(encoded, features)])
        aurocs.append(roc_auc_score(labels, scores) if 0 < labels.mean() < 1 else 0.5)
    best = int(np.argmax(aurocs))
    half = channels // 2
    top, top5, rate = [], [], []
    for example, code, block in zip(state["examples"], encoded, features):
        true = np.isfinite(example.pair_distances[:code.residues, :code.nucleotides])
        pair = code.pair_scores(block[..., best])
        top.append(top_l_precision(pair, true, 1.0))
        top5.append(top_l_precision(pair, true, 0.2))
        rate.append(float(true.mean()))
    return {"best_channel": {"index": best, "layer": (best % half) // heads + 1,
                             "head": best % heads + 1,
                             "direction": "protein→nucleic" if best < half else "nucleic→protein",
                             "auroc": float(aurocs[best])},
            "channel_auroc": [float(a) for a in aurocs],
            "top_l": float(np.mean(top)), "top_l5": float(np.mean(top5)),
            "pair_rate": float(np.mean(rate))}


def build_report(config, state, per_model, thresholds):
    """The report dict: data, folds, models (per subset: per fold, mean ± sd, pooled), attention."""
    labels, owner, scores = _residue_arrays(state, per_model)
    folds = state["folds"][owner]
    subsets = _subsets(state, owner)
    ex = state["examples"]
    models = {m: evaluate_model(labels, scores[m], folds, thresholds[m], subsets)
              for m in per_model}
    return {
        "data": {"complexes": len(state["records"]), "protein_chains": len(ex),
                 "residues": int(len(labels)), "positive_rate": float(labels.mean()),
                 "DNA_chains": sum(e.benchmark == "DNA" for e in ex),
                 "RNA_chains": sum(e.benchmark == "RNA" for e in ex),
                 "pronab_overlap_chains": (None if state["overlap"] is None
                                           else int(state["overlap"].sum())),
                 "replaced_letters": int(sum(c.replaced for c in state["encoded"])),
                 "cutoff_angstrom": config.cutoff},
        "homology": {"identity_threshold": config.identity, "linkage": "single",
                     "default_threshold": IDENTITY_THRESHOLD, **cluster_summary(state["groups"])},
        "backbone": {"path": str(config.backbone or "binding-dg preset pretrain/backbone.keras"),
                     "converted": bool(state["converted"]),
                     "parameters": int(state["backbone"].count_params()),
                     "layers": int(state["backbone"].num_layers),
                     "heads": int(state["backbone"].num_heads)},
        "models": models, "labels": {m: LABELS[m] for m in per_model},
        "attention": attention_analysis(state),
    }


def _predictions_frame(state, per_model):
    rows = []
    for i, (example, code) in enumerate(zip(state["examples"], state["encoded"])):
        frame = pd.DataFrame({"example": example.name, "benchmark": example.benchmark,
                              "fold": int(state["folds"][i]) + 1,
                              "cluster": int(state["groups"][i]),
                              "position": np.arange(1, code.residues + 1),
                              "residue": list(example.protein[:code.residues]),
                              "distance": example.distances[:code.residues],
                              "contact": state["residue_labels"][i].astype(int)})
        for name, values in per_model.items():
            frame[name] = values[i]
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _example_choice(state, count):
    chosen = []
    for benchmark in ("DNA", "RNA"):
        pool = [i for i, e in enumerate(state["examples"]) if e.benchmark == benchmark]
        pool.sort(key=lambda i: -state["residue_labels"][i].sum())
        chosen += pool[:max(1, count // 2)]
    return chosen[:max(count, 1)]


def write_outputs(config, state, per_model, thresholds, report, folder):
    """``predictions.csv``, ``folds.csv``, ``tokenizer.json`` and the PNG figures."""
    folder.write_csv(_predictions_frame(state, per_model), "predictions.csv")
    state["tokenizer"].save(folder.file("tokenizer.json"))
    folder.write_csv(pd.DataFrame({"example": [e.name for e in state["examples"]],
                                   "benchmark": [e.benchmark for e in state["examples"]],
                                   "cluster": state["groups"], "fold": state["folds"] + 1}),
                     "folds.csv")
    best = report["attention"]["best_channel"]
    for i in _example_choice(state, config.figures):
        example, code, fold = state["examples"][i], state["encoded"][i], int(state["folds"][i])
        predictions = {LABELS[m]: v[i] for m, v in per_model.items()}
        cuts = {LABELS[m]: thresholds[m][fold] for m in per_model}
        folder.save_figure(figures.example_figure(example.name, state["residue_labels"][i],
                                                  predictions, cuts, config.cutoff),
                           f"contacts_{example.name}")
        attention = code.pair_scores(state["features"][i][..., best["index"]])
        true = np.isfinite(example.pair_distances[:code.residues, :code.nucleotides])
        folder.save_figure(figures.attention_figure(
            example.name, attention, true,
            f"layer {best['layer']}, head {best['head']} ({best['direction']})"),
            f"attention_{example.name}")
    att = report["attention"]
    folder.save_figure(figures.top_l_figure({"best head, top-L": att["top_l"],
                                             "best head, top-L/5": att["top_l5"]},
                                            {"best head, top-L": att["pair_rate"],
                                             "best head, top-L/5": att["pair_rate"]}),
                       "attention_top_l")


def summary_lines(report):
    """Lines printed after a run: mean ± sd over folds per model and subset, beside the baselines."""
    lines = [f"{report['data']['protein_chains']} protein chains of {report['data']['complexes']} "
             f"complexes, {report['data']['residues']} residues, positive rate "
             f"{report['data']['positive_rate']:.3f}"]
    for model, blocks in report["models"].items():
        for subset, block in blocks.items():
            s = block["summary"]
            if s["auroc"] is None:
                continue
            lines.append(f"{report['labels'][model]} [{subset}]: ROC AUC {s['auroc']['mean']:.3f} ± "
                         f"{s['auroc']['sd']:.3f}, AUPRC {s['auprc']['mean']:.3f} ± "
                         f"{s['auprc']['sd']:.3f}, F1 {s['f1']['mean']:.3f} ± {s['f1']['sd']:.3f}")
    att = report["attention"]
    lines.append(f"attention: best layer {att['best_channel']['layer']} head "
                 f"{att['best_channel']['head']} AUROC {att['best_channel']['auroc']:.3f}; top-L "
                 f"{att['top_l']:.3f}, top-L/5 {att['top_l5']:.3f} (pair rate {att['pair_rate']:.3f})")
    return lines
