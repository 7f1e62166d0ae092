"""Builders of the multi-omic transformer (after OmniBioTE, arXiv:2408.16245).

The tokenizer the tasks use, a backbone sized by a task config, loading a
backbone from a ``.keras`` file, and copying one with another protein
isolation.
"""

from pathlib import Path

import keras

from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.tokenizer import MultiomicTokenizer
from deepbio.core.loading import load_task_model


def make_tokenizer():
    """The per-residue `MultiomicTokenizer` the tasks use."""
    return MultiomicTokenizer()


def build_backbone(config, tokenizer):
    """A fresh `MultiomicBackbone` sized by ``config`` (a `PretrainConfig` or `BindingConfig`)."""
    tags = tokenizer.tag_ids
    return MultiomicBackbone.from_preset(
        config.preset, tokenizer.vocabulary_size, hidden_dim=config.hidden_dim,
        num_heads=config.num_heads, num_layers=config.num_layers,
        intermediate_dim=config.intermediate_dim, attention_scale=config.attention_scale,
        dropout=config.dropout, segment_token_ids=list(tags.values()),
        isolated_segment_token_id=tags["protein"] if config.isolate_protein else None,
        name="multiomic_backbone")


def load_backbone(path):
    """A `MultiomicBackbone` from a ``.keras`` file (a backbone, or a task that holds one).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no `MultiomicBackbone`.
    """
    model = load_task_model(path, "pretrain", compile=True)
    backbone = model if isinstance(model, MultiomicBackbone) else getattr(model, "backbone", None)
    if not isinstance(backbone, MultiomicBackbone):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a MultiomicBackbone or a task "
                         "built on one")
    return backbone


def clone_backbone(backbone, isolate, tokenizer):
    """A copy of ``backbone`` (fresh variables, same weights) with the requested isolation."""
    return backbone.with_isolation(tokenizer.tag_ids["protein"] if isolate else None,
                                   list(tokenizer.tag_ids.values()))
