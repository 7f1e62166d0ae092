"""``import deepbio`` alone registers every custom object: a fresh process loads each task's model.

Tiny untrained models of every task are built and saved here; ONE fresh Python process (one
TensorFlow import) does ``import deepbio`` and ``import keras`` only, loads each ``.keras`` file
with ``keras.models.load_model`` and prints its outputs on fixed inputs as JSON, which must equal
the in-process predictions. The PTM model holds ``Feature_extraction_algorithms``'
``PSTAAPEncoding`` layer, which only ``import deepbio``'s registration makes loadable.
"""

import json

import keras
import numpy as np
import pytest

import Feature_extraction_algorithms as fea
from conftest import ROOT
from conftest import run_script as _run
from deepbio.models import (VQRNA, BindingAffinityRegressor, MultiomicBackbone, MultiomicMaskedLM,
                            MultiomicTokenizer, PTMClassifier, basset_cnn)
from deepbio.models.ptm.features import residue_features
from deepbio.models.ptm.sequence_model import ptm_sequence_model

LOADER = r"""
import json, sys
from pathlib import Path

import numpy as np

import deepbio  # noqa: F401  (the only deepbio import: it must register everything)
import keras

folder = Path(sys.argv[1])
inputs = np.load(folder / "inputs.npz")
feeds = {
    "ptm": inputs["ptm_tokens"],
    "rnamod": inputs["rna"],
    "motif": inputs["dna"],
    "binding": {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]},
    "backbone": {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]},
    "masked_lm": {"token_ids": inputs["token_ids"], "padding_mask": inputs["padding_mask"]},
}
result = {"modules": sorted(m for m in sys.modules if m.startswith(("deepbio", "Feature_")))}
for name, feed in feeds.items():
    model = keras.models.load_model(folder / f"{name}.keras", compile=False)
    out = model.predict(feed, verbose=0)
    out = {k: np.asarray(v).tolist() for k, v in out.items()} if isinstance(out, dict) else \
        np.asarray(out).tolist()
    result[name] = {"class": type(model).__name__, "outputs": out}
print("RESULT " + json.dumps(result))
"""


def _protein_windows(n, seed=0):
    rng = np.random.default_rng(seed)
    letters = rng.choice(list(fea.PROTEIN_ALPHABET), size=(n, 49))
    letters[:, 24] = "K"
    return ["".join(row) for row in letters]


def _ptm_model():
    windows = _protein_windows(24)
    labels = np.eye(4, dtype=np.int32)[np.arange(24) % 4]
    encoders = ("physicochemical", "one_hot")
    encoder = fea.PSTAAP().fit(windows, labels)
    raw = encoder.transform(windows)
    scaling = (raw.mean(axis=0), raw.var(axis=0) + 1e-6)
    classifier = PTMClassifier(residue_channels=residue_features(windows[:1], encoders).shape[-1],
                               conv_filters=4, tower_filters=(4, 8), hidden_dim=8, num_heads=2,
                               gru_units=4, intermediate_dim=8)
    model = ptm_sequence_model(classifier, encoder, scaling, encoders)
    tokens = fea.encode_residues(_protein_windows(3, seed=1), alphabet=fea.PROTEIN_ALPHABET + "-")
    tokens[0, :5] = 20  # padding ("-") at a protein end
    return model, np.asarray(tokens, np.int32)


def _tiny_backbone(tokenizer, isolated):
    tags = tokenizer.tag_ids
    return MultiomicBackbone(vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2,
                             hidden_dim=8, intermediate_dim=16,
                             segment_token_ids=list(tags.values()),
                             isolated_segment_token_id=tags["protein"] if isolated else None)


def _randomise_dense(layer, rng):
    """Heads are zero-initialised; random weights make their outputs differ between inputs."""
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("registration")
    models, feeds = {}, {}
    models["ptm"], feeds["ptm"] = _ptm_model()
    models["rnamod"] = VQRNA(51, encoder_filters=(8, 16), hidden_dim=16, num_embeddings=32,
                             num_layers=1, num_heads=2, intermediate_dim=16, head_dim=8)
    feeds["rnamod"] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(3, 51))]
    models["motif"] = basset_cnn(sequence_length=40, filters=(4,), kernel_sizes=(5,),
                                 pool_sizes=(2,), dense_units=(8,))
    feeds["motif"] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(3, 40))]
    tokenizer = MultiomicTokenizer()
    ids, mask = tokenizer.pad([tokenizer.encode_complex("MKVLA", "ACGTT", "DNA", "AACGT"),
                               tokenizer.encode_complex("MK", "ACG", "RNA")])
    token_feed = {"token_ids": ids.astype(np.int32), "padding_mask": mask.astype(np.int32)}
    models["binding"] = BindingAffinityRegressor(_tiny_backbone(tokenizer, True), -9.5, 2.1)
    _randomise_dense(models["binding"].head, rng)
    models["backbone"] = _tiny_backbone(tokenizer, True)
    models["masked_lm"] = MultiomicMaskedLM(_tiny_backbone(tokenizer, False))
    _randomise_dense(models["masked_lm"].get_layer("lm_head"), rng)
    for name in ("binding", "backbone", "masked_lm"):
        feeds[name] = token_feed
    expected = {}
    for name, model in models.items():
        model.save(folder / f"{name}.keras")
        out = model.predict(feeds[name], verbose=0)
        expected[name] = ({k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict)
                          else np.asarray(out))
    np.savez(folder / "inputs.npz", ptm_tokens=feeds["ptm"], rna=feeds["rnamod"],
             dna=feeds["motif"], token_ids=token_feed["token_ids"],
             padding_mask=token_feed["padding_mask"])
    result = _run(["-c", LOADER, str(folder)], cwd=ROOT, timeout=600)
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    return models, expected, json.loads(line[len("RESULT "):])


def test_import_deepbio_brought_in_the_registering_modules(saved):
    _, _, loaded = saved
    # `import deepbio` + `import keras` imported the modules that register custom objects
    assert {"deepbio.layers", "deepbio.models", "Feature_extraction_algorithms.layers"} <= \
        set(loaded["modules"])


@pytest.mark.parametrize("name, cls", [("ptm", "Functional"), ("rnamod", "VQRNA"),
                                       ("motif", "Functional"),
                                       ("binding", "BindingAffinityRegressor"),
                                       ("backbone", "MultiomicBackbone"),
                                       ("masked_lm", "MultiomicMaskedLM")])
def test_loaded_model_gives_the_in_process_outputs(saved, name, cls):
    models, expected, loaded = saved
    assert loaded[name]["class"] == type(models[name]).__name__ == cls
    outputs = loaded[name]["outputs"]
    if isinstance(expected[name], dict):
        assert set(outputs) == set(expected[name])
        pairs = [(np.array(outputs[k]), expected[name][k]) for k in expected[name]]
    else:
        pairs = [(np.array(outputs), expected[name])]
    for got, want in pairs:
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        # the inputs differ, so must the outputs (a constant model would prove nothing)
        assert np.abs(want[0] - want[1]).max() > 1e-4, name
