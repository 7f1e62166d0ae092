"""The contact run: data, homology folds, the four models per fold, metrics, figures.

Called by `deepbio.multiomic.contacts.task` (``deepbio run contacts``); Keras is imported here,
not by the task module.
"""

from pathlib import Path

import numpy as np

from deepbio.multiomic.contacts.data import load_examples
from deepbio.multiomic.contacts.encoding import encode_example
from deepbio.multiomic.contacts.evaluation import choose_threshold
from deepbio.multiomic.contacts.homology import cluster_sequences, grouped_folds, pronab_overlap
from deepbio.multiomic.contacts.propensity import PropensityBaseline
from deepbio.multiomic.finetune_task import backbone_tokenizer
from deepbio.multiomic.pronab import load_pronab
from deepbio.multiomic.contacts.report import build_report, write_outputs

MODELS = ("finetuned", "probe", "random_probe", "propensity")
DEFAULT_BACKBONE = Path(__file__).resolve().parents[2] / "presets" / "binding-dg" / "pretrain" \
    / "backbone.keras"


def resolve_backbone(path):
    """The backbone file: ``path`` (a ``.keras`` file or a `deepbio convert` folder) or the
    binding-dg preset's pre-trained backbone.

    Raises:
        FileNotFoundError: no such file, or a folder without ``backbone.keras``.
    """
    if not path:
        return DEFAULT_BACKBONE
    path = Path(path)
    if path.is_dir():
        path = path / "backbone.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no backbone (give a backbone.keras or a folder written "
                                "by 'deepbio convert omnibiote')")
    return path


def load_backbone_and_tokenizer(path):
    """(backbone with full attention, tokenizer, converted, head scale) of a backbone file.

    Raises:
        ValueError: the backbone's vocabulary does not match its tokenizer.
    """
    from deepbio.multiomic.builders import load_backbone  # deferred: imports Keras/TensorFlow

    tokenizer, converted = backbone_tokenizer(str(path))
    backbone = load_backbone(str(path))
    if backbone.vocabulary_size != tokenizer.vocabulary_size:
        raise ValueError(f"{path}: a {backbone.vocabulary_size}-token backbone but its tokenizer "
                         f"has {tokenizer.vocabulary_size} tokens")
    backbone = backbone.with_isolation(None, list(tokenizer.tag_ids.values()))
    head_scale = 1024.0 / backbone.hidden_dim if converted else 1.0  # upstream's μP factor
    return backbone, tokenizer, converted, head_scale


def _pronab_proteins(data_dir):
    try:
        return sorted(set(load_pronab(data_dir).frame["protein"]))
    except FileNotFoundError:
        return None


def prepare(config, data_dir):
    """Examples, encodings, labels, clusters, folds and subsets (no model).

    Returns:
        dict with ``examples``, ``records``, ``groups``, ``folds`` and ``overlap``.
    """
    examples, records = load_examples(config.benchmark, config.cutoff, data_dir,
                                      config.max_complexes)
    if len({e.protein for e in examples}) < max(config.folds, 2):
        raise ValueError(f"{len(examples)} protein chains cannot make {config.folds} folds")
    groups = cluster_sequences([e.protein for e in examples], config.identity, workers=2)
    sizes = [min(len(e.protein), config.max_protein) for e in examples]
    folds = grouped_folds(groups, sizes, config.folds, config.seed)
    reference = _pronab_proteins(data_dir)
    overlap = (None if reference is None else
               pronab_overlap([e.protein for e in examples], reference))
    return {"examples": examples, "records": records, "groups": groups, "folds": folds,
            "overlap": overlap}


def _fresh_backbone(backbone, seed, pretrained=True):
    import keras

    from deepbio.multiomic.backbone import MultiomicBackbone  # deferred: imports Keras/TensorFlow

    keras.utils.set_random_seed(seed)
    clone = MultiomicBackbone.from_config(backbone.get_config())
    if pretrained:
        clone.set_weights(backbone.get_weights())
    return clone


def _fold_models(config, state, fold, folder):
    """Trains the four models of one fold; returns token scores of every example per model."""
    from deepbio.multiomic.contacts.training import (finetune_token_head, predict_probe,  # deferred: imports Keras/TensorFlow
                                                     predict_token_head, train_probe)

    enc, labels, ex = state["encoded"], state["token_labels"], state["examples"]
    train = np.flatnonzero(state["folds"] != fold)
    pick = (lambda items, rows: [items[i] for i in rows])
    scores, thresholds = {}, {}
    propensity = PropensityBaseline(config.window, seed=config.seed).fit(
        [ex[i].protein[:enc[i].residues] for i in train],
        [state["residue_labels"][i] for i in train])
    scores["propensity"] = propensity.predict([e.protein[:c.residues] for e, c in zip(ex, enc)])
    for name, features in (("probe", state["features"]), ("random_probe", state["random"])):
        model, _ = train_probe(pick(features, train), pick(labels, train), config)
        scores[name] = [c.residue_scores(s) for c, s in zip(enc, predict_probe(model, features))]
        if fold == 0:
            folder.save_model(model, f"{name}_fold1.keras")
    if config.finetune:
        backbone = _fresh_backbone(state["backbone"], config.seed + fold)
        model, _ = finetune_token_head(backbone, pick(enc, train), pick(labels, train), config,
                                       state["tokenizer"].pad_id, state["head_scale"])
        token = predict_token_head(model, enc, state["tokenizer"].pad_id)
        scores["finetuned"] = [c.residue_scores(s) for c, s in zip(enc, token)]
        if fold == 0:
            folder.save_model(model, "finetuned_fold1.keras")
    for name, per_example in scores.items():
        y = np.concatenate([state["residue_labels"][i] for i in train])
        thresholds[name] = choose_threshold(y, np.concatenate([per_example[i] for i in train]))
    return scores, thresholds


def _encode_all(config, state):
    encoded = [encode_example(state["tokenizer"], e, state["converted"], config.max_protein,
                              config.max_nucleic) for e in state["examples"]]
    state["encoded"] = encoded
    state["residue_labels"] = [e.labels(config.cutoff)[:c.residues]
                               for e, c in zip(state["examples"], encoded)]
    state["token_labels"] = [c.token_labels(y) for c, y in zip(encoded, state["residue_labels"])]


def _attention(config, state):
    from deepbio.multiomic.contacts.models import attention_backbone, attention_features  # deferred: imports Keras/TensorFlow

    state["features"] = attention_features(attention_backbone(state["backbone"]),
                                           state["encoded"])
    random = _fresh_backbone(state["backbone"], config.seed + 1000, pretrained=False)
    state["random"] = attention_features(attention_backbone(random), state["encoded"])


def run_contacts(config, folder):
    """``deepbio run contacts``: every model under protein-grouped cross-validation.

    Args:
        config: `ContactsConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.

    Returns:
        The report dict (see `deepbio.multiomic.contacts.report.build_report`).
    """
    folder.write_params()
    with folder.timer("data"):
        state = prepare(config, folder.data_dir)
        backbone, tokenizer, converted, head_scale = load_backbone_and_tokenizer(
            resolve_backbone(config.backbone))
        state.update(backbone=backbone, tokenizer=tokenizer, converted=converted,
                     head_scale=head_scale)
        _encode_all(config, state)
    if folder.verbose:
        print(f"contacts: {len(state['examples'])} protein chains, "
              f"{sum(c.residues for c in state['encoded'])} residues, "
              f"{len(set(state['groups'].tolist()))} homology clusters", flush=True)
    with folder.timer("attention"):
        _attention(config, state)
    per_model = {m: [None] * len(state["examples"]) for m in MODELS}
    thresholds = {m: {} for m in MODELS}
    with folder.timer("folds"):
        for fold in range(config.folds):
            scores, cuts = _fold_models(config, state, fold, folder)
            test = np.flatnonzero(state["folds"] == fold)
            for name in scores:
                thresholds[name][fold] = cuts[name]
                for i in test:
                    per_model[name][i] = scores[name][i]
            if folder.verbose:
                print(f"contacts: fold {fold + 1}/{config.folds} done", flush=True)
    per_model = {m: v for m, v in per_model.items() if all(s is not None for s in v)}
    with folder.timer("report"):
        report = build_report(config, state, per_model, thresholds)
        write_outputs(config, state, per_model, thresholds, report, folder)
    return folder.write_report(report)
