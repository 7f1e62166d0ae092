"""``import deepbio`` alone registers every custom object: a fresh process loads each task's model.

Tiny untrained models of every task are built and saved here; ONE fresh Python process (one
TensorFlow import) does ``import deepbio`` and ``import keras`` only, loads each ``.keras`` file
with ``keras.models.load_model`` and prints its outputs on fixed inputs as JSON, which must equal
the in-process predictions. The PTM model holds ``Feature_extraction_algorithms``'
``PSTAAPEncoding`` layer, which only ``import deepbio``'s registration makes loadable. The same
process also loads every model the shared tiny runs (``tiny_run``) of rnamod, motif and binding
wrote, compile state included.
"""

import json

import keras
import numpy as np
import pytest

import Feature_extraction_algorithms as fea
from conftest import ROOT
from conftest import run_script as _run
from deepbio.rnamod.model import VQRNA
from deepbio.multiomic.binding_model import BindingAffinityRegressor
from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.masked_lm import MultiomicMaskedLM
from deepbio.multiomic.tokenizer import MultiomicTokenizer
from deepbio.ptm.model import PTMClassifier
from deepbio.motif.model import basset_cnn
from deepbio.ptm.features import residue_features
from deepbio.ptm.sequence_model import ptm_sequence_model

LOADER = r"""
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
for name, feed in feeds.items():
    model = keras.models.load_model(folder / f"{name}.keras", compile=False)
    out = model.predict(feed, verbose=0)
    out = {k: np.asarray(v).tolist() for k, v in out.items()} if isinstance(out, dict) else \
        np.asarray(out).tolist()
    result[name] = {"class": type(model).__name__, "outputs": out}
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
def saved_models(tmp_path_factory):
    """Tiny untrained models of every task saved as ``.keras``: ``(folder, models, outputs)``."""
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
    return folder, models, expected


@pytest.fixture(scope="module")
def fresh(saved_models, request):
    """ONE fresh process (one TensorFlow import) loads the untrained models and, with the data
    mirror, every model of the shared tiny runs of `RUN_TASKS`: ``(run folders, its result)``."""
    try:
        roots = {task: request.getfixturevalue("tiny_run")(task) for task in RUN_TASKS}
    except pytest.skip.Exception:  # no data mirror: the untrained models only
        roots = {}
    folder = saved_models[0]
    result = _run(["-c", FRESH, str(folder), *(f"{task}={root}" for task, root in roots.items())],
                  cwd=ROOT, timeout=600)
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    return roots, json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def saved(saved_models, fresh):
    """``(models, in-process outputs, the fresh process's modules and outputs)``."""
    _, models, expected = saved_models
    return models, expected, fresh[1]


def test_import_deepbio_brought_in_the_registering_modules(saved):
    _, _, loaded = saved
    # `import deepbio` + `import keras` imported the modules that register custom objects: the
    # shared layers and losses, the companion layers and each method's models
    assert {"deepbio.layers", "deepbio.losses", "Feature_extraction_algorithms.layers",
            "deepbio.ptm.model", "deepbio.ptm.sequence_model", "deepbio.rnamod.model",
            "deepbio.motif.model", "deepbio.multiomic.backbone", "deepbio.multiomic.masked_lm",
            "deepbio.multiomic.heads", "deepbio.multiomic.binding_model"} <= set(loaded["modules"])


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


# -- the models the tiny runs write, compile state included ------------------------------------
RUN_TASKS = ("rnamod", "motif", "binding")  # binding also runs a pre-training (pretrain/)

EVALUATE = r"""
def evaluate_fixed(model):
    '''Loss and metrics of a compiled one-hot-input model on fixed data (None otherwise).'''
    import numpy as np

    shape = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else ()
    if not model.compiled or len(shape) != 3 or shape[-1] != 4:
        return None
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(8, shape[1]))]
    out = model.predict(x, verbose=0)
    if isinstance(out, dict):  # VQ-RNA: masked labels (-1 missing) and the reconstruction
        y = {"modification": rng.integers(-1, 2, size=out["modification"].shape).astype("float32"),
             "reconstruction": x}
    else:
        y = rng.integers(0, 2, size=np.shape(out)).astype("float32")
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    return {k: float(v) for k, v in scores.items()}
"""

RUN_LOADER = r"""
roots = dict(arg.split("=", 1) for arg in sys.argv[2:])  # task=run folder
runs = result["runs"] = {}
for path, name in sorted((p, f"{task}/{p.relative_to(root).as_posix()}")
                         for task, root in roots.items() for p in Path(root).rglob("*.keras")):
    model = keras.models.load_model(path)  # compile=True and safe_mode=True: the defaults
    runs[name] = {
        "class": type(model).__name__, "compiled": bool(model.compiled),
        "loss": keras.saving.serialize_keras_object(model.loss) if model.compiled else None,
        "scores": evaluate_fixed(model)}
"""

# The fresh process: python -c FRESH UNTRAINED_FOLDER [task=run folder ...]
FRESH = EVALUATE + r"""
import json, sys
from pathlib import Path

import numpy as np

import deepbio  # noqa: F401  (the only deepbio import: it must register everything)
import keras

result = {"modules": sorted(m for m in sys.modules if m.startswith(("deepbio", "Feature_")))}
""" + LOADER + RUN_LOADER + r"""
print("RESULT " + json.dumps(result))
"""


@pytest.fixture(scope="module")
def run_models(fresh):
    """The shared tiny run of each task in `RUN_TASKS`, as the fresh process loaded them:
    ``({task: run folder}, {"task/relative path": what the fresh process found})``."""
    roots, result = fresh
    if not roots:
        pytest.skip("DEEPBIO_DATA is not set to a data mirror")
    return roots, result["runs"]


def _path(roots, name):
    """The file of a ``task/relative path`` key of the fresh process's result."""
    task, relative = name.split("/", 1)
    return roots[task] / relative


def _saved_compile_config(path):
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json")).get("compile_config")


def test_every_model_a_run_writes_loads_with_import_deepbio_alone(run_models):
    roots, loaded = run_models
    written = sorted(f"{task}/{p.relative_to(root).as_posix()}" for task, root in roots.items()
                     for p in root.rglob("*.keras"))
    assert set(loaded) == set(written)
    for task in RUN_TASKS:
        assert any(name.startswith(f"{task}/") for name in written), task
    assert "rnamod/Am/model.keras" in loaded and loaded["rnamod/Am/model.keras"]["class"] == "VQRNA"
    for name, entry in loaded.items():
        # compiled exactly when the run saved a compile state, and with the saved loss
        saved = _saved_compile_config(_path(roots, name))
        assert entry["compiled"] == bool(saved), name
        if saved:
            assert json.dumps(entry["loss"], sort_keys=True) == json.dumps(saved["loss"],
                                                                         sort_keys=True), name


def test_compiled_state_evaluates_as_in_process(run_models):
    """The masked cross-entropy (``deepbio>masked_binary_crossentropy``) and the motif AUROC come
    back: evaluating in the fresh process gives what the model evaluates to here."""
    roots, loaded = run_models
    namespace = {}
    exec(EVALUATE, namespace)  # noqa: S102  (the same fixed data as the fresh process)
    checked = 0
    for name, entry in loaded.items():
        if entry["scores"] is None:
            continue
        expected = namespace["evaluate_fixed"](keras.models.load_model(_path(roots, name)))
        assert set(entry["scores"]) == set(expected) and "loss" in expected, name
        for key, value in expected.items():
            assert np.isfinite(value) and entry["scores"][key] == pytest.approx(value, rel=1e-5), \
                (name, key)
        checked += 1
    rnamod = loaded["rnamod/Am/model.keras"]
    assert rnamod["compiled"] and "masked_binary_crossentropy" in json.dumps(rnamod["loss"])
    assert checked >= 2  # the VQ-RNA and the motif CNN
