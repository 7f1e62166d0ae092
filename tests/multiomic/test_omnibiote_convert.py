"""OmniBioTE checkpoints → deepbio Keras models, checked against an independent PyTorch reference.

The reference below is written from upstream's ``src/model.py`` (github.com/nyuolab/OmniBioTE,
MIT), not from deepbio: LLaMA's complex-view RoPE, the unbiased-std norm, SDPA with scale
``8 / n_embd``, SwiGLU with the value half first, ``lm_head · 32 / n_embd`` and the ``OmniBindER``
head. Width 64 with 2 heads makes ``8 / n_embd`` (1/8) differ from ``1 / head_dim`` (1/32).
Checkpoints are whole pickled modules, as upstream publishes, of classes living in a module
that no longer exists when the converter reads them (so nothing of "upstream" can be imported).
Closeness: ``max |keras − torch| / max |torch|`` per output, at most `TOL` (2e-6: float32 rounding;
measured at most 1.04e-6, the bf16 checkpoint's masked-LM logits on a padded batch).
"""

import copy
import json
import sys
import types
import warnings
from dataclasses import dataclass

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from deepbio.layers import OmniBioTENorm, RotaryEmbedding  # noqa: E402
from deepbio.multiomic.convert import convert_omnibiote  # noqa: E402
from deepbio.multiomic.omnibiote_tokenizer import OmniBioTETokenizer
from deepbio.multiomic.torch_checkpoint import read_torch_checkpoint  # noqa: E402

TOL = 2e-6  # docs/methods/multiomic.md: the converted outputs equal the reference's to ~1e-6


# ---------------------------------------------------------------- the PyTorch reference (upstream)
def reshape_for_broadcast(freqs_cis, x):
    freqs_cis = freqs_cis[:x.shape[1]]
    shape = [d if i == 1 or i == x.ndim - 1 else 1 for i, d in enumerate(x.shape)]
    return freqs_cis.view(*shape)


def apply_rotary_emb(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = reshape_for_broadcast(freqs_cis, xq_)
    return (torch.view_as_real(xq_ * freqs_cis).flatten(3).type_as(xq),
            torch.view_as_real(xk_ * freqs_cis).flatten(3).type_as(xk))


def precompute_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    freqs = torch.outer(torch.arange(end), freqs).float()
    return torch.polar(torch.ones_like(freqs), freqs)


@dataclass
class OmniBioTAConfig:
    context_length: int = 48
    vocab_size: int = 49
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = False
    autoregressive: bool = False
    position_encoding: str = "rope"
    memory_efficient: bool = False


class LayerNorm(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(n_embd))
        self.gamma = nn.Parameter(torch.zeros(n_embd))
        self.eps = 1e-5

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True)
        return self.alpha * (x - mean) / (std + self.eps) + self.gamma


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.register_buffer("freqs_cis", precompute_freqs_cis(config.n_embd // config.n_head,
                                                               config.context_length))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head)
        k = k.view(B, T, self.n_head, C // self.n_head)
        v = v.view(B, T, self.n_head, C // self.n_head)
        q, k = apply_rotary_emb(q, k, self.freqs_cis)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, scale=8 / self.n_embd, is_causal=False)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(2 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x):
        h, gate = self.c_fc(x).chunk(2, dim=-1)
        return self.c_proj(h * F.silu(gate))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1, self.attn = LayerNorm(config.n_embd), SelfAttention(config)
        self.ln_2, self.mlp = LayerNorm(config.n_embd), MLP(config)
        self.stats = []

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class OmniBioTA(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.config.lr_scale = 32 / config.n_embd
        self.config.param_std = 1 / np.sqrt(config.n_embd)  # a NumPy scalar in the pickle
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd), drop=nn.Dropout(0.0),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd)))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.stats = []

    def forward(self, idx, return_embeddings=False):
        x = self.transformer.drop(self.transformer.wte(idx))
        for block in self.transformer.h:
            x = block(x)
        emb = self.transformer.ln_f(x)
        return emb if return_embeddings else self.lm_head(emb) * self.config.lr_scale


class OmniBindER(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.omnibiota = OmniBioTA(config)
        self.proj_head = nn.Linear(config.n_embd, 1)
        self.stats = np.asarray([0, 1])

    def forward(self, idx):
        emb = self.omnibiota(idx, return_embeddings=True)[:, 0]
        return self.proj_head(emb) * (1024 / self.config.n_embd) * self.stats[1] + self.stats[0]


REFERENCE_CLASSES = (OmniBioTAConfig, LayerNorm, SelfAttention, MLP, Block, OmniBioTA, OmniBindER)


def save_as_upstream(model, path):
    """torch.save(model) with the classes in a module "upstream_model" that is gone afterwards."""
    fake = types.ModuleType("upstream_model")
    saved = {cls: cls.__module__ for cls in REFERENCE_CLASSES}
    for cls in REFERENCE_CLASSES:
        cls.__module__ = "upstream_model"
        setattr(fake, cls.__name__, cls)
    sys.modules["upstream_model"] = fake
    try:
        torch.save(model, path)
    finally:
        del sys.modules["upstream_model"]
        for cls, module in saved.items():
            cls.__module__ = module


# ---------------------------------------------------------------- fixtures
TOKENIZER = OmniBioTETokenizer("char")
PAIRS = [("MKVLAAGIW", "ACGTTGCA", "<DNA>", "TGCAACGT"), ("MEEPQSD", "TGAAGGAC", "<RNA>", None),
         ("ARNDCQEGHILKMFPSTWYV", "GGGCATGCCC", "<DNA>", "GGGCATGCCC"),
         ("MKX", "ACN", "<ss-DNA>", None)]
SEQUENCES = [TOKENIZER.encode_binding(p, n, tag, s) for p, n, tag, s in PAIRS]


def random_binder(seed):
    torch.manual_seed(seed)
    model = OmniBindER(OmniBioTAConfig())
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("alpha"):
                param.copy_(1 + 0.3 * torch.randn_like(param))
            elif name.endswith("gamma"):
                param.copy_(0.3 * torch.randn_like(param))
            else:
                param.copy_(torch.randn_like(param) * (0.5 if "lm_head" in name else 0.15))
    model.stats = np.asarray([-9.5, 2.1])
    return model.eval()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("omnibiote")
    binder = random_binder(0)
    with warnings.catch_warnings():  # upstream's .to(bfloat16) drops freqs_cis' imaginary part
        warnings.simplefilter("ignore")
        binder_bf16 = copy.deepcopy(binder).to(torch.bfloat16)
    plain = random_binder(1).omnibiota
    save_as_upstream(binder, folder / "omnibinder.pt")
    save_as_upstream(binder_bf16, folder / "omnibinder_bf16.pt")
    save_as_upstream(plain, folder / "omnibiota.pt")
    results = {name: convert_omnibiote(folder / f"{name}.pt", folder / name)
               for name in ("omnibinder", "omnibinder_bf16", "omnibiota")}
    references = {"omnibinder": binder, "omnibinder_bf16": copy.deepcopy(binder_bf16).float(),
                  "omnibiota": plain}
    return folder, results, references


def torch_outputs(reference, ids):
    idx = torch.tensor([ids], dtype=torch.long)
    with torch.no_grad():
        if isinstance(reference, OmniBindER):
            inner = reference.omnibiota
            return (inner(idx, return_embeddings=True)[0].numpy(), inner(idx)[0].numpy(),
                    reference(idx)[0].double().numpy())
        return reference(idx, return_embeddings=True)[0].numpy(), reference(idx)[0].numpy(), None


def padded(sequences):
    length = max(map(len, sequences))
    ids = np.ones((len(sequences), length), np.int32)  # upstream's PAD id
    mask = np.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)], mask[row, :len(seq)] = seq, 1
    return {"token_ids": ids, "padding_mask": mask}


def relative(keras_values, torch_values):
    keras_values, torch_values = np.concatenate(keras_values), np.concatenate(torch_values)
    return float(np.max(np.abs(keras_values - torch_values)) / np.max(np.abs(torch_values)))


def compare(models, reference, batches):
    """Max relative differences of embeddings, logits and ΔG over the sequences."""
    found = {}
    for output, model in models.items():
        got, want = [], []
        for batch in batches:
            values = keras.ops.convert_to_numpy(model(padded(batch)))
            for row, seq in enumerate(batch):
                expected = torch_outputs(reference, seq)[["backbone", "masked_lm", "binding"]
                                                         .index(output)]
                got.append(values[row] if output == "binding" else values[row, :len(seq)])
                want.append(expected)
        found[output] = relative(got, want)
    return found


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("name", ["omnibinder", "omnibinder_bf16"])
def test_outputs_match_the_pytorch_reference(converted, name):
    folder, results, references = converted
    models = {key: keras.models.load_model(results[name][key])
              for key in ("backbone", "masked_lm", "binding")}
    unpadded = [[seq] for seq in SEQUENCES]
    same_length = [SEQUENCES[0], SEQUENCES[0][::-1]]
    differences = {"unpadded": compare(models, references[name], unpadded + [same_length]),
                   "padded": compare(models, references[name], [SEQUENCES])}
    print(f"\n{name} max relative differences: {json.dumps(differences)}")
    for found in differences.values():
        assert max(found.values()) <= TOL, differences
    summary = json.loads((folder / name / "conversion.json").read_text())
    assert summary["kind"] == "omnibinder" and summary["stats"] == {"mean": -9.5, "std": 2.1}
    if name.endswith("bf16"):  # .to(bfloat16) left cos only: pairs scaled, not rotated
        assert summary["stored_dtypes"] == ["bfloat16"]
        assert summary["rope"] == ["cosine scaling (bfloat16 real freqs_cis)"]
    else:
        assert summary["rope"] == ["rotation"]


def test_plain_encoder_round_trip_and_config(converted, tmp_path):
    folder, results, references = converted
    result = results["omnibiota"]
    assert result["kind"] == "omnibiota" and result["binding"] is None
    assert not (folder / "omnibiota" / "binding.keras").exists()
    assert result["config"] == {
        "vocabulary_size": 49, "num_layers": 2, "num_heads": 2, "hidden_dim": 64,
        "intermediate_dim": 128, "attention_scale": 0.125, "logit_scale": 0.5,
        "head_scale": 16.0, "rotary_table_length": 48, "tokenizer_mode": "char"}
    masked_lm = keras.models.load_model(result["masked_lm"])
    assert masked_lm.backbone.get_config()["normalization"] == "omnibiote"
    assert masked_lm.get_config()["logit_scale"] == 0.5
    assert compare({"masked_lm": masked_lm}, references["omnibiota"], [SEQUENCES])["masked_lm"] \
        <= TOL
    masked_lm.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras")
    feed = padded(SEQUENCES)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(feed)),
                                  keras.ops.convert_to_numpy(masked_lm(feed)))
    assert OmniBioTETokenizer.load(result["tokenizer"]).encode("<DNA>ACGT<EOS>", "nuc") == \
        [9, 4, 6, 7, 5, 3]
    upstream = json.loads((folder / "omnibiota" / "conversion.json").read_text())["upstream_config"]
    assert upstream["n_embd"] == 64 and upstream["param_std"] == pytest.approx(0.125)


class _Evil:
    def __init__(self, call, argument):
        self.call, self.argument = call, argument

    def __reduce__(self):
        return self.call, (self.argument,)


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval"])
def test_checkpoint_with_a_disallowed_global_is_refused(tmp_path, kind):
    marker = tmp_path / "ran"
    import os

    evil = _Evil(os.system, f"touch {marker}") if kind == "os.system" else \
        _Evil(eval, f"open({str(marker)!r}, 'w')")
    torch.save({"transformer.wte.weight": torch.zeros(2, 2), "x": evil}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=f"refused.*{kind.split('.')[1]}"):
        convert_omnibiote(tmp_path / "evil.pt", tmp_path / "out")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        convert_omnibiote(tmp_path / "missing.pt", tmp_path / "out")
    (tmp_path / "text.pt").write_text("not a zip")
    with pytest.raises(ValueError, match="text.pt is not a PyTorch zip checkpoint"):
        read_torch_checkpoint(tmp_path / "text.pt")
    torch.save(random_binder(2).omnibiota.state_dict(), tmp_path / "state.pt")
    with pytest.raises(ValueError, match="pass num_heads"):
        convert_omnibiote(tmp_path / "state.pt", tmp_path / "out")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt is not an OmniBioTE model"):
        convert_omnibiote(tmp_path / "other.pt", tmp_path / "out")


def test_norm_and_rotary_table_layers():
    x = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
    norm = LayerNorm(8)
    with torch.no_grad():
        norm.alpha.normal_(), norm.gamma.normal_()
    layer = OmniBioTENorm()
    layer.build(x.shape)
    layer.set_weights([norm.alpha.detach().numpy(), norm.gamma.detach().numpy()])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                               norm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert OmniBioTENorm.from_config(layer.get_config()).epsilon == 1e-5
    q = np.random.default_rng(1).normal(size=(2, 5, 3, 8)).astype("float32")
    computed, table = RotaryEmbedding(), RotaryEmbedding(table_length=16)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(table(q)),
                               keras.ops.convert_to_numpy(computed(q)), atol=1e-5)
    assert RotaryEmbedding.from_config(table.get_config()).table_length == 16


def test_per_residue_tokenizer_matches_upstream_table():
    nuc = dict(zip("ATCGN", range(4, 9)))
    tags = ["<DNA>", "<mRNA>", "<RNA>", "<rRNA>", "<tRNA>", "<cRNA>", "<ss-RNA>", "<ss-DNA>",
            "<ds-mRNA>", "<ds-rRNA>", "<ds-RNA>", "<ms-DNA>", "<ms-RNA>", "<ds-cRNA>"]
    nuc.update({tag: 9 + i for i, tag in enumerate(tags)})
    prot = {r: 23 + i for i, r in enumerate("ARNDCQEGHILKMFPSTWYVBZXUO")}
    for table, seq_type, tag in ((nuc, "nuc", "<protein>"), (prot, "prot", "<DNA>")):
        for token, index in table.items():
            assert TOKENIZER.encode(token, seq_type) == [index]
        assert TOKENIZER.encode(f"{tag}<EOS>a?", seq_type) == [0, 3, 0, 0]
    assert TOKENIZER.encode("<protein>MK<EOS>", "prot") == [48, 35, 34, 3]
    assert TOKENIZER.encode("U", "nuc") == [0] and TOKENIZER.vocabulary_size == 49
    assert TOKENIZER.decode(TOKENIZER.encode("<RNA>TGAA<EOS>", "nuc"), "nuc") == "<RNA>TGAA<EOS>"
    assert TOKENIZER.encode_binding("MK", "AC", "<RNA>") == [48, 35, 34, 3, 11, 4, 6, 3]
    with pytest.raises(ValueError, match="seq_type"):
        TOKENIZER.encode("A", "dna")


def test_bpe_tokenizer_offsets_and_banned_pieces(tmp_path, monkeypatch):
    spm = pytest.importorskip("sentencepiece")
    rng = np.random.default_rng(0)
    corpora = {"nuc": ["<DNA>" + "".join(rng.choice(list("ACGT"), 60)) + "<EOS>"
                       for _ in range(200)],
               "prot": ["<protein>" + "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 60))
                        + "<EOS>" for _ in range(200)]}
    paths = {}
    for seq_type, lines in corpora.items():
        tag = "<DNA>" if seq_type == "nuc" else "<protein>"
        spm.SentencePieceTrainer.train(  # no <s>/</s>: ids 1 and 2 are the two tags
            sentence_iterator=iter(lines), model_prefix=str(tmp_path / seq_type), vocab_size=60,
            model_type="bpe", user_defined_symbols=["<EOS>", tag], bos_id=-1, eos_id=-1,
            minloglevel=2)
        paths[seq_type] = str(tmp_path / f"{seq_type}.model")
    tok = OmniBioTETokenizer("bpe", paths["nuc"], paths["prot"])
    for seq_type, offset in (("nuc", 0), ("prot", 2048)):
        sp = spm.SentencePieceProcessor(model_file=paths[seq_type])
        text = corpora[seq_type][0]
        raw = sp.EncodeAsIds(text)
        assert {1, 2} <= set(raw)
        assert tok.encode(text, seq_type) == [i + offset for i in raw if i not in (1, 2)]
        body = text[text.index(">") + 1:text.rindex("<")]
        assert tok.decode(tok.encode(body, seq_type), seq_type) == body
    assert tok.vocabulary_size == 4096
    tok.save(tmp_path / "tok.json")
    assert OmniBioTETokenizer.load(tmp_path / "tok.json").encode("ACGT", "nuc") == \
        tok.encode("ACGT", "nuc")
    urls = []
    monkeypatch.setattr(keras.utils, "get_file",
                        lambda name, origin, **kw: urls.append(origin) or paths[
                            "nuc" if name.startswith("genbank") else "prot"])
    OmniBioTETokenizer("bpe", base_url="https://example.org/omnibiote/")
    assert urls == ["https://example.org/omnibiote/genbank-2k.model",
                    "https://example.org/omnibiote/uniref-2k.model"]
    with pytest.raises(FileNotFoundError, match="SentencePiece model not found"):
        OmniBioTETokenizer("bpe", str(tmp_path / "none.model"), paths["prot"])


def test_command_line_converts_and_fails_well(converted, tmp_path, capsys):
    import filecmp

    from deepbio import cli

    folder, results, _ = converted
    assert cli.main(["convert", "omnibiote", str(folder / "omnibiota.pt"), "--output",
                     str(tmp_path / "cli")]) == 0
    assert "omnibiota checkpoint converted" in capsys.readouterr().out
    assert filecmp.cmp(tmp_path / "cli" / "tokenizer.json", folder / "omnibiota" / "tokenizer.json",
                       shallow=False)
    backbone = keras.models.load_model(tmp_path / "cli" / "backbone.keras")
    reference = keras.models.load_model(results["omnibiota"]["backbone"])
    for a, b in zip(backbone.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "text.pt").write_text("not a zip")
    assert cli.main(["convert", "omnibiote", str(tmp_path / "text.pt"), "--output",
                     str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "text.pt is not a PyTorch zip checkpoint" in err[0]
    assert not (tmp_path / "bad").exists()


def test_predict_binding_with_a_converted_checkpoint(converted, tmp_path):
    """`deepbio predict binding` encodes with the checkpoint's own tokenizer (evals/pronab.py layout)."""
    import pandas as pd

    from deepbio.multiomic.binding_predict import predict_pairs
    from deepbio.multiomic.finetune_task import OmniBioTEInputs

    folder, results, references = converted
    pairs = pd.DataFrame({"protein": ["MKVLAAGIW", "MEEPQSD"], "nucleic_acid": ["ACGTTGCA", "UGAAGGAC"],
                          "type": ["DNA", "RNA"], "complementary": ["TGCAACGT", ""]})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    predict_pairs(results["omnibinder"]["binding"], tmp_path / "pairs.csv", tmp_path / "dg.csv")
    got = pd.read_csv(tmp_path / "dg.csv")["predicted_dg"].to_numpy()
    inputs = OmniBioTEInputs(TOKENIZER)
    ids = [inputs.encode_complex(*row) for row in
           [("MKVLAAGIW", "ACGTTGCA", "DNA", "TGCAACGT"), ("MEEPQSD", "UGAAGGAC", "RNA", None)]]
    assert ids[1][-10:] == TOKENIZER.encode("<RNA>TGAAGGAC<EOS>", "nuc")  # U read as T
    want = [float(torch_outputs(references["omnibinder"], seq)[2].ravel()[0]) for seq in ids]
    np.testing.assert_allclose(got, want, rtol=1e-4)
