"""Converts OmniBioTE's published PyTorch checkpoints into deepbio Keras models, exactly.

Upstream (github.com/nyuolab/OmniBioTE ``src/model.py``, MIT) publishes whole
pickled modules (``torch.save(model)``): ``OmniBioTA`` (the masked-LM
encoder) and ``OmniBindER`` (``OmniBioTA`` under ``omnibiota`` plus a ΔG head
``proj_head`` and a NumPy attribute ``stats = [mean, std]``). They are read
with `read_torch_checkpoint` (a restricted unpickler: no upstream or torch
code is imported or run) and mapped onto a `MultiomicBackbone` with
upstream's exact options:

- ``normalization="omnibiote"``: ``alpha · (x − mean) / (std + 1e-5) +
  gamma``, unbiased std;
- ``attention_scale = 8 / n_embd`` (μP; equals ``1 / head_dim`` only with 8
  heads); fused bias-free ``c_attn`` (q, k, v) and ``c_proj``;
- RoPE tables copied from each block's ``freqs_cis`` buffer
  (``rotary_table_length``). Upstream's training scripts call
  ``model.to(torch.bfloat16)``, which casts this complex buffer to its real
  part: the published models scale each query / key pair by
  ``bf16(cos(position · θ_i))`` rather than rotating it, and the tables
  reproduce whichever the checkpoint holds;
- SwiGLU ``c_fc``: upstream's first half is the value and the second the
  gate; deepbio's ``gate_up_kernel`` is gate-first, so the halves are
  swapped (an exact permutation);
- masked-LM head ``lm_head`` bias-free, logits × ``32 / n_embd``; ΔG head
  on token 0 × ``1024 / n_embd`` × std + mean.

PyTorch ``Linear`` weights are (out, in) and are transposed to Keras kernels.
"""

import json
import os
from pathlib import Path

import numpy as np

from deepbio.multiomic.binding_model import BindingAffinityRegressor
from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.masked_lm import MultiomicMaskedLM
from deepbio.multiomic.omnibiote_tokenizer import (BPE_VOCABULARY_SIZE,
                                                          CHAR_VOCABULARY_SIZE,
                                                          write_tokenizer_config)
from deepbio.multiomic.torch_checkpoint import (CheckpointObject, LazyTensor,
                                                       read_torch_checkpoint)
from deepbio.core.io import atomic_path

_LAYER_KEYS = ("ln_1.alpha", "ln_1.gamma", "attn.c_attn.weight", "attn.c_proj.weight",
               "ln_2.alpha", "ln_2.gamma", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _module_state(obj, prefix="", out=None, depth=0):
    """Parameters and buffers of a pickled ``nn.Module`` tree, by state-dict key."""
    out = {} if out is None else out
    if depth > 64:
        raise ValueError("module tree nested more than 64 deep")
    state = vars(obj)
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is not None:
                out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, CheckpointObject):
            _module_state(child, f"{prefix}{name}.", out, depth + 1)
    return out


def _unwrap(obj):
    """The model inside a DDP (``module``) or ``torch.compile`` (``_orig_mod``) wrapper."""
    while isinstance(obj, CheckpointObject):
        children = vars(obj).get("_modules") or {}
        if set(children) & {"transformer", "omnibiota"} or len(children) != 1:
            break
        name, child = next(iter(children.items()))
        if name not in ("module", "_orig_mod"):
            break
        obj = child
    return obj


def _config_of(obj):
    """Upstream ``OmniBioTAConfig`` attributes as a dict ({} when the checkpoint has none)."""
    if not isinstance(obj, CheckpointObject):
        return {}
    config = vars(obj).get("config")
    if not isinstance(config, CheckpointObject):
        inner = (vars(obj).get("_modules") or {}).get("omnibiota")
        config = vars(inner).get("config") if isinstance(inner, CheckpointObject) else None
    if not isinstance(config, CheckpointObject):
        return {}
    return {k: v for k, v in vars(config).items()
            if isinstance(v, (bool, int, float, str, type(None)))}


def _describe(checkpoint, state, config, num_heads):
    """Kind, key prefix and sizes of the model, checked against the tensor shapes."""
    if "omnibiota.transformer.wte.weight" in state and "proj_head.weight" in state:
        kind, prefix = "omnibinder", "omnibiota."
    elif "transformer.wte.weight" in state:
        kind, prefix = "omnibiota", ""
    else:
        sample = sorted(state)[:6]
        raise ValueError(f"{checkpoint} is not an OmniBioTE model: no transformer.wte.weight "
                         f"(keys start {sample})")
    vocabulary, width = state[f"{prefix}transformer.wte.weight"].shape
    layers = 0
    while f"{prefix}transformer.h.{layers}.attn.c_attn.weight" in state:
        layers += 1
    heads = config.get("n_head", num_heads)
    if heads is None:
        raise ValueError(f"{checkpoint} has no config with n_head (a bare state dict?): pass "
                         "num_heads")
    heads = int(heads)
    for key, value, expected in (("n_embd", config.get("n_embd"), width),
                                 ("n_layer", config.get("n_layer"), layers),
                                 ("vocab_size", config.get("vocab_size"), vocabulary)):
        if value is not None and int(value) != expected:
            raise ValueError(f"{checkpoint}: config {key}={value} but the weights give {expected}")
    if config.get("position_encoding", "rope") != "rope" or f"{prefix}pos_emb" in state:
        raise ValueError(f"{checkpoint}: position_encoding "
                         f"{config.get('position_encoding')!r} is not supported (only 'rope')")
    if config.get("autoregressive"):
        raise ValueError(f"{checkpoint}: causal (autoregressive) models are not supported")
    biases = [k for k in state if k.endswith(".bias") and not k.startswith("proj_head")]
    if biases:
        raise ValueError(f"{checkpoint}: biased projections are not supported ({biases[0]})")
    if layers == 0 or width % heads or (width // heads) % 2:
        raise ValueError(f"{checkpoint}: {layers} layers, width {width} and {heads} heads do not "
                         "make a RoPE transformer (width / heads must be an even integer)")
    return {"kind": kind, "prefix": prefix, "vocabulary_size": int(vocabulary),
            "hidden_dim": int(width), "num_layers": layers, "num_heads": heads,
            "has_lm_head": f"{prefix}lm_head.weight" in state}


def _rope_tables(checkpoint, tensor, head_dim):
    """(cos, sin) tables (length, head_dim / 2) from a ``freqs_cis`` buffer, and its kind."""
    table = tensor.numpy()
    if table.ndim != 2 or table.shape[1] != head_dim // 2:
        raise ValueError(f"{checkpoint}: freqs_cis has shape {table.shape}, expected (length, "
                         f"{head_dim // 2})")
    if np.iscomplexobj(table):
        return (table.real.astype(np.float32), table.imag.astype(np.float32)), "rotation"
    # model.to(bfloat16) kept the real part only: pairs are scaled by cos, not rotated
    return (table.astype(np.float32), np.zeros(table.shape, np.float32)), \
        f"cosine scaling ({tensor.dtype} real freqs_cis)"


def _assign(checkpoint, variable, value, key):
    value = np.asarray(value, np.float32)
    if tuple(variable.shape) != value.shape:
        raise ValueError(f"{checkpoint}: {key} gives shape {value.shape}, the Keras weight "
                         f"{variable.path} needs {tuple(variable.shape)}")
    variable.assign(value)


def _get(checkpoint, state, key):
    if key not in state:
        raise ValueError(f"{checkpoint} lacks {key}")
    value = state[key]
    if not isinstance(value, LazyTensor):
        raise ValueError(f"{checkpoint}: {key} is a {type(value).__name__}, not a tensor")
    return value.numpy()


def _build_backbone(checkpoint, state, info, tables_length):
    width = info["hidden_dim"]
    backbone = MultiomicBackbone(
        vocabulary_size=info["vocabulary_size"], num_layers=info["num_layers"],
        num_heads=info["num_heads"], hidden_dim=width, intermediate_dim=2 * width, dropout=0.0,
        attention_scale=8.0 / width, layer_norm_epsilon=1e-5, normalization="omnibiote",
        rotary_table_length=tables_length, name="omnibiote_backbone")
    p = info["prefix"] + "transformer."
    _assign(checkpoint, backbone.token_embedding.embeddings,
            _get(checkpoint, state, p + "wte.weight"), p + "wte.weight")
    rope = set()
    for i, block in enumerate(backbone.transformer_layers):
        h = f"{p}h.{i}."
        w = {k: _get(checkpoint, state, h + k) for k in _LAYER_KEYS}
        _assign(checkpoint, block.attention_norm.scale, w["ln_1.alpha"], h + "ln_1.alpha")
        _assign(checkpoint, block.attention_norm.offset, w["ln_1.gamma"], h + "ln_1.gamma")
        _assign(checkpoint, block.attention.qkv_kernel, w["attn.c_attn.weight"].T,
                h + "attn.c_attn.weight")
        _assign(checkpoint, block.attention.output_kernel, w["attn.c_proj.weight"].T,
                h + "attn.c_proj.weight")
        _assign(checkpoint, block.mlp_norm.scale, w["ln_2.alpha"], h + "ln_2.alpha")
        _assign(checkpoint, block.mlp_norm.offset, w["ln_2.gamma"], h + "ln_2.gamma")
        value, gate = np.split(w["mlp.c_fc.weight"], 2, axis=0)  # upstream: h * silu(gate)
        _assign(checkpoint, block.gate_up_kernel, np.concatenate([gate, value], axis=0).T,
                h + "mlp.c_fc.weight")
        _assign(checkpoint, block.down_kernel, w["mlp.c_proj.weight"].T, h + "mlp.c_proj.weight")
        rotary = block.attention.rotary
        if tables_length is not None:
            key = h + "attn.freqs_cis"
            if not isinstance(state.get(key), LazyTensor):
                raise ValueError(f"{checkpoint} lacks {key} (present in block 0)")
            (cos, sin), kind = _rope_tables(checkpoint, state[key], width // info["num_heads"])
            _assign(checkpoint, rotary.cos_table, cos, key)
            _assign(checkpoint, rotary.sin_table, sin, key)
            rope.add(kind)
    _assign(checkpoint, backbone.final_norm.scale, _get(checkpoint, state, p + "ln_f.alpha"),
            p + "ln_f.alpha")
    _assign(checkpoint, backbone.final_norm.offset, _get(checkpoint, state, p + "ln_f.gamma"),
            p + "ln_f.gamma")
    return backbone, sorted(rope) or ["rotation (computed; no freqs_cis buffer)"]


def _stats(checkpoint, root):
    stats = vars(root).get("stats") if isinstance(root, CheckpointObject) else None
    try:
        mean, std = (float(v) for v in np.asarray(stats, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        raise ValueError(f"{checkpoint}: OmniBindER attribute stats must be [mean, std], got "
                         f"{stats!r}") from None
    if not np.isfinite([mean, std]).all():
        raise ValueError(f"{checkpoint}: OmniBindER stats are not finite: {[mean, std]}")
    return mean, std


def _save(model, path):
    with atomic_path(path) as tmp:
        model.save(tmp)
    return str(path)


def convert_omnibiote(checkpoint, output_dir, tokenizer_mode=None, num_heads=None):
    """Converts an OmniBioTE checkpoint into ``.keras`` models and a tokenizer configuration.

    Reads the checkpoint without importing or running upstream or torch
    code (`read_torch_checkpoint`); bfloat16 weights are widened to float32
    exactly. The outputs reproduce upstream's float32 forward pass
    (``model.float()``) on the stored weights: padding is handled by
    ``padding_mask`` (upstream runs unpadded sequences, so compare valid
    positions of padded batches with per-sequence upstream runs). Inputs
    longer than upstream's ``context_length`` (the RoPE table length) are not
    supported, as upstream.

    Writes into ``output_dir`` (created if needed; each file atomically):

    - ``backbone.keras``: a `MultiomicBackbone`, inputs ``{"token_ids",
      "padding_mask"}`` (batch, length), output the final normed embeddings
      (batch, length, n_embd) float32 = upstream
      ``model(idx, return_embeddings=True)``;
    - ``masked_lm.keras`` when the checkpoint has ``lm_head``: a
      `MultiomicMaskedLM`, logits (batch, length, vocabulary) = upstream
      ``model(idx)`` (``OmniBindER``: its ``omnibiota(idx)``);
    - ``binding.keras`` for an ``OmniBindER`` checkpoint: a
      `BindingAffinityRegressor`, ΔG (batch, 1) in kcal/mol = upstream
      ``model(idx)``;
    - ``tokenizer.json``: the `OmniBioTETokenizer` configuration
      (``OmniBioTETokenizer.load``);
    - ``conversion.json``: the upstream configuration, model kind, stored
      dtypes, RoPE kind and ΔG statistics.

    Args:
        checkpoint: str or path-like, a ``torch.save`` zip file of an
            ``OmniBioTA`` / ``OmniBindER`` module (or of their state dict).
        output_dir: str or path-like.
        tokenizer_mode: ``"char"`` or ``"bpe"``; default inferred from the
            vocabulary (49 → per-residue, 4096 → BPE).
        num_heads: int, only for a bare state dict (no config inside);
            upstream's models have heads = layers.

    Returns:
        dict with ``kind`` (``"omnibiota"`` or ``"omnibinder"``), the
        written paths ``backbone``, ``masked_lm`` (or None), ``binding`` (or
        None), ``tokenizer``, ``summary``, and ``config`` (the sizes used).

    Raises:
        FileNotFoundError: no such checkpoint.
        ValueError: not a torch zip checkpoint; a pickle that would call a
            disallowed global (``os.system``, ``builtins.eval``, class
            constructors...): refused before anything runs; not an OmniBioTE
            model, or an unsupported variant (learned positions, causal,
            biases); weights whose shapes disagree with the config; bad
            ``stats``; a vocabulary whose tokenizer cannot be inferred. Each
            message names the checkpoint.
    """
    checkpoint = Path(checkpoint)
    output_dir = Path(output_dir)
    root, archive = read_torch_checkpoint(checkpoint)
    try:
        return _convert(checkpoint, _unwrap(root), output_dir, tokenizer_mode, num_heads)
    finally:
        archive.close()


def _convert(checkpoint, root, output_dir, tokenizer_mode, num_heads):
    """`convert_omnibiote` on the unpickled (and unwrapped) checkpoint ``root``; the same dict."""
    if isinstance(root, CheckpointObject):
        state = _module_state(root)
    elif isinstance(root, dict):
        state = {str(k): v for k, v in root.items()}
    else:
        raise ValueError(f"{checkpoint} holds a {type(root).__name__}, not a model")
    config = _config_of(root)
    info = _describe(checkpoint, state, config, num_heads)
    if tokenizer_mode is None:
        tokenizer_mode = _tokenizer_mode(checkpoint, info["vocabulary_size"])
    freqs = state.get(f"{info['prefix']}transformer.h.0.attn.freqs_cis")
    tables_length = freqs.shape[0] if isinstance(freqs, LazyTensor) else None
    backbone, rope = _build_backbone(checkpoint, state, info, tables_length)
    width = info["hidden_dim"]
    written = {"kind": info["kind"], "masked_lm": None, "binding": None}
    output_dir.mkdir(parents=True, exist_ok=True)
    written["backbone"] = _save(backbone, output_dir / "backbone.keras")
    logit_scale = float(config.get("lr_scale", 32.0 / width))
    if info["has_lm_head"]:
        written["masked_lm"] = _write_masked_lm(checkpoint, state, info, backbone, logit_scale,
                                                output_dir)
    stats = None
    if info["kind"] == "omnibinder":
        stats = _stats(checkpoint, root)
        written["binding"] = _write_binding(checkpoint, state, backbone, width, stats, output_dir)
    tokenizer_path = output_dir / "tokenizer.json"
    write_tokenizer_config(tokenizer_path, tokenizer_mode)
    written["tokenizer"] = str(tokenizer_path)
    dtypes = sorted({v.dtype for v in state.values() if isinstance(v, LazyTensor)})
    written["config"] = {
        "vocabulary_size": info["vocabulary_size"], "num_layers": info["num_layers"],
        "num_heads": info["num_heads"], "hidden_dim": width, "intermediate_dim": 2 * width,
        "attention_scale": 8.0 / width, "logit_scale": logit_scale,
        "head_scale": 1024.0 / width, "rotary_table_length": tables_length,
        "tokenizer_mode": tokenizer_mode}
    summary = {"checkpoint": os.path.basename(checkpoint),
               "checkpoint_bytes": checkpoint.stat().st_size, "kind": info["kind"],
               "upstream_config": config, "stored_dtypes": dtypes, "rope": rope,
               "stats": None if stats is None else {"mean": stats[0], "std": stats[1]},
               "deepbio": written["config"]}
    written["summary"] = _write_summary(summary, output_dir / "conversion.json")
    return written


def _tokenizer_mode(checkpoint, vocabulary_size):
    """``"char"`` or ``"bpe"``, from the size of the vocabulary (49 or 4096).

    Raises:
        ValueError: another size (naming ``checkpoint``).
    """
    modes = {CHAR_VOCABULARY_SIZE: "char", BPE_VOCABULARY_SIZE: "bpe"}
    if vocabulary_size not in modes:
        raise ValueError(f"{checkpoint}: cannot infer the tokenizer of a "
                         f"{vocabulary_size}-token vocabulary; pass "
                         "tokenizer_mode 'char' or 'bpe'")
    return modes[vocabulary_size]


def _write_masked_lm(checkpoint, state, info, backbone, logit_scale, output_dir):
    """``masked_lm.keras``: a `MultiomicMaskedLM` on ``backbone`` with upstream's ``lm_head``; its path."""
    masked_lm = MultiomicMaskedLM(backbone, use_bias=False, logit_scale=logit_scale,
                                  name="omnibiote_masked_lm")
    key = info["prefix"] + "lm_head.weight"
    _assign(checkpoint, masked_lm.get_layer("lm_head").kernel,
            _get(checkpoint, state, key).T, key)
    return _save(masked_lm, output_dir / "masked_lm.keras")


def _write_binding(checkpoint, state, backbone, width, stats, output_dir):
    """``binding.keras``: a `BindingAffinityRegressor` with ``proj_head`` and ΔG ``stats``; its path."""
    regressor = BindingAffinityRegressor(backbone, stats[0], stats[1], 0.0,
                                         head_scale=1024.0 / width,
                                         name="omnibiote_binding")
    _assign(checkpoint, regressor.head.kernel,
            _get(checkpoint, state, "proj_head.weight").T, "proj_head.weight")
    bias = _get(checkpoint, state, "proj_head.bias") if "proj_head.bias" in state \
        else np.zeros(1, np.float32)
    _assign(checkpoint, regressor.head.bias, bias, "proj_head.bias")
    return _save(regressor, output_dir / "binding.keras")


def _write_summary(summary, path):
    """Writes the conversion summary as JSON (atomically); returns the path (str)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return str(path)
