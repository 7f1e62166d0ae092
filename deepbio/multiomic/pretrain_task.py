"""``--task pretrain``: masked-LM pre-training of the multi-omic transformer (after OmniBioTE, arXiv:2408.16245).

Masked-LM pre-training of a `MultiomicBackbone` on protein and nucleic-acid
sequences (default corpus: every sequence of the local data sets' training
files, `deepbio.multiomic.corpus.pretraining_corpus`), with masked-token accuracy
and perplexity on a held-out slice of sequences beside a unigram baseline.
This module holds the configuration and the run-folder side (saving,
report, plot); the training loop is `deepbio.multiomic.pretraining`. Its
command line lives in `deepbio.multiomic.binding_task`.
"""

import dataclasses
import json

import numpy as np

from deepbio.baselines import unigram_baseline
from deepbio.multiomic.corpus import pretraining_corpus
from deepbio.multiomic.sizes import BACKBONE_PRESETS
from deepbio.core.task import Task, TrainingConfig, TransformerSizeConfig, option


def _paths(text):
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _per_source(text):
    value = int(text)
    return None if value == 0 else value


@dataclasses.dataclass
class BackboneConfig(TransformerSizeConfig):
    """Mixin: the multi-omic backbone's size (``preset``, KerasHub's sense) and attention.

    ``hidden_dim``, ``num_heads``, ``num_layers`` and ``intermediate_dim``
    override the preset's when not None.
    """

    preset: str = option("tiny", "backbone size preset (width = 128 × depth)",
                         choices=tuple(BACKBONE_PRESETS))
    hidden_dim: int = None
    num_heads: int = None
    num_layers: int = None
    intermediate_dim: int = None
    attention_scale: str = option("mup", "attention scale: 'mup' 1/head_dim (OmniBioTE) or "
                                         "'standard' 1/sqrt(head_dim)", choices=("mup", "standard"))
    isolate_protein: bool = option(True, "protein tokens attend only to the protein, so each "
                                         "protein is encoded once for all its partners "
                                         "(--no-isolate-protein: OmniBioTE's full attention)")
    dropout: float = option(0.0, "dropout rate", minimum=0, maximum=0.95)


@dataclasses.dataclass
class PretrainConfig(BackboneConfig, TrainingConfig):
    """Masked-LM pre-training parameters (saved to ``params.json``); see `option` help texts.

    One epoch draws one random crop of every corpus sequence; the optimizer is
    AdamW with linear warm-up and cosine decay to ``learning_rate``'s peak.
    """

    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = option(0.01, "AdamW weight decay", minimum=0)
    warmup_fraction: float = option(0.05, "fraction of the steps of linear warm-up",
                                    minimum=0, maximum=1)
    crop_length: int = option(128, "content tokens per crop (longer sequences are cropped at a "
                                   "random offset each time they are drawn)", minimum=8)
    mask_rate: float = option(0.15, "BERT masking rate", minimum=0.01, maximum=0.9)
    heldout_fraction: float = option(0.05, "sequences kept out for the masked-token accuracy "
                                           "and perplexity", minimum=0.001, maximum=0.5)
    full_attention: bool = option(False, "same as --no-isolate-protein")
    max_per_source: int = option(6000, "at most this many sequences per source, random and "
                                       "seeded (0: all)", parse=_per_source, minimum=1, nullable=True)
    corpus: tuple[str, ...] = option((), "FASTA files to pre-train on instead of the local data "
                                         "sets", parse=_paths, metavar="A.fasta,B.fasta")


def paper_pretraining():
    """OmniBioTE's pre-training settings, for a GPU: XL backbone, full attention, dropout 0.05,
    μP base lr 0.01 (scaled to width 3072), 1024-token context; to be run far longer than the
    local corpus allows (``--epochs``)."""
    return PretrainConfig(preset="xl", isolate_protein=False, dropout=0.05, epochs=100,
                          batch_size=256, learning_rate=0.01 * 32 / 3072, crop_length=1022,
                          max_per_source=None)


def pretrain(config, folder):
    """Masked-LM pre-training; writes ``backbone.keras``, ``masked_lm.keras``, report and plot.

    Args:
        config: `PretrainConfig`.
        folder: `deepbio.core.run_folder.RunFolder` (the binding task passes
            its ``pretrain/`` sub-folder).

    Returns:
        ``(backbone, report)``; the report has ``heldout`` (``masked_accuracy``,
        ``perplexity``, ``n_masked``), ``unigram_baseline`` (the same
        scores of per-modality token frequencies from the training slice),
        ``history`` (mean training loss per epoch), ``corpus`` counts,
        ``steps``, ``seconds``.
    """
    from deepbio.multiomic.masked_lm import MultiomicMaskedLM  # deferred: imports Keras/TensorFlow
    from deepbio.multiomic.builders import build_backbone, make_tokenizer  # deferred: imports Keras/TensorFlow
    from deepbio.multiomic.pretraining import (encode_corpus, evaluate_mlm, heldout_batches,  # deferred: imports Keras/TensorFlow
                                            mlm_step_functions, train_masked_lm)

    import keras

    verbose = folder.verbose
    keras.utils.set_random_seed(config.seed)  # also inside a binding run: its own seed state
    rng = np.random.default_rng(config.seed)
    tokenizer = make_tokenizer()
    with folder.timer("corpus"):
        corpus = pretraining_corpus(folder.data_dir, config.corpus, config.max_per_source,
                                    config.seed)
    folder.write_params()
    content, tag_ids = encode_corpus(corpus, tokenizer)
    order = rng.permutation(len(content))
    n_heldout = max(1, int(round(config.heldout_fraction * len(content))))
    heldout, train = order[:n_heldout], order[n_heldout:]
    backbone = build_backbone(config, tokenizer)
    model = MultiomicMaskedLM(backbone, name="multiomic_masked_lm")

    def training():  # a run unit: its epochs are checkpointed, a finished one is loaded
        history, steps, _ = train_masked_lm(model, content, tag_ids, train, config, tokenizer,
                                            rng, verbose)
        return model, history, steps

    with folder.timer("train"):
        model, history, steps = folder.checkpointed("masked_lm", training)
    backbone = model.backbone
    eval_step = mlm_step_functions(model, None)[1]
    heldout_scores = evaluate_mlm(eval_step, content, tag_ids, heldout, config, tokenizer)
    baseline = unigram_baseline(content, tag_ids, train,
                                heldout_batches(content, tag_ids, heldout, config, tokenizer),
                                tokenizer.vocabulary_size)
    folder.save_model(backbone, "backbone.keras")
    folder.save_model(model, "masked_lm.keras")
    tokenizer.save(folder.file("tokenizer.json"))
    report = {
        "task": "pretrain", "heldout": heldout_scores, "unigram_baseline": baseline,
        "history": history, "steps": steps, "tokens_seen": None,
        "corpus": {"sequences": len(content), "train": len(train), "heldout": len(heldout),
                   "per_source": corpus["source"].value_counts().to_dict(),
                   "per_modality": corpus["modality"].value_counts().to_dict()},
        "backbone": {k: v for k, v in backbone.get_config().items() if k != "dtype"},
        "parameters": int(backbone.count_params())}
    report["tokens_seen"] = int(steps * config.batch_size * min(
        config.crop_length + 3, int(np.mean([len(c) for c in content])) + 3))
    folder.plot_history({"loss": history}, "pretraining_loss", ylabel="masked-LM cross-entropy",
                        title="pre-training", keys=("loss",))
    return backbone, folder.write_report(report)


class PretrainTask(Task):
    """``deepbio run pretrain``: masked-LM pre-training of the multi-omic backbone."""

    name = "pretrain"
    benchmark = "deepbio.multiomic.benchmark:pretrain_workload"  # benchmarks/gpu_check.py
    brief = 'masked-LM pre-training of a multi-omic transformer on proteins and nucleic acids, after OmniBioTE'
    rank = 40
    multi_worker = True
    keras_modules = ('deepbio.multiomic.backbone', 'deepbio.multiomic.masked_lm', 'deepbio.multiomic.heads', 'deepbio.multiomic.binding_model')
    tiny_flags = ('--epochs', '1', '--max-per-source', '20', '--crop-length', '32')  # the tests' shared tiny run (seconds on 2 cores)
    config_class = PretrainConfig
    description = ("Masked-LM pre-training (15 % masking, 80/10/10) of an OmniBioTE-style "
                   "non-causal transformer on proteins and nucleic acids together: by default "
                   "every sequence of the local data sets (ProNAB, OmniK-PTM training windows, "
                   "VQ-RNA train/valid windows, Basset 8988T), with masked-token accuracy and "
                   "perplexity on a held-out slice beside a token-frequency baseline.")
    example = ("deepbio run pretrain --epochs 2\n"
               "deepbio run pretrain --corpus proteins.fasta,rna.fasta --preset mini")
    profiles = {"cpu": PretrainConfig, "gpu": paper_pretraining}
    converters = {"omnibiote": ("OmniBioTE checkpoints (torch.save of OmniBioTA / OmniBindER, "
                                "Hugging Face WeiHua/OmniBioTE) → backbone.keras, masked_lm.keras, "
                                "binding.keras, tokenizer.json",
                                "deepbio.multiomic.convert_command:OMNIBIOTE")}

    def finish_config(self, config, given):
        """``--full-attention`` is ``--no-isolate-protein``."""
        if config.full_attention:
            config = dataclasses.replace(config, isolate_protein=False)
        return config

    def run(self, config, folder):
        return pretrain(config, folder)[1]

    def summary(self, report):
        h, b = report["heldout"], report["unigram_baseline"]
        return [f"held-out masked-token accuracy {h['masked_accuracy']:.4f}, perplexity "
                f"{h['perplexity']:.3f} (token-frequency baseline: {b['masked_accuracy']:.4f}, "
                f"{b['perplexity']:.3f}); backbone → backbone.keras",
                f"seconds: {json.dumps(report['seconds'])}"]


TASK = PretrainTask()
