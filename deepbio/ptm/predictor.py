"""A trained PTM model as one object: windows → calibrated probabilities, thresholds, calls.

`load_ptm_predictor(path)` is the one loader of every PTM model type a run
writes:

* ``ptm_model.skops`` (``--model-type trees``/``powerset``/``linear``/``stack``):
  a `WindowEnsemble` (the fitted scikit-learn models of the inner folds, their
  calibrators and per-label thresholds) saved with ``skops.io`` and loaded
  with the fixed allow-list `deepbio.core.safe_files.TRUSTED_TYPES`; the
  pickled ``ptm_model.joblib`` of older versions is refused unopened;
* ``model.keras`` (``--model-type network``): the end-to-end Keras model,
  residue tokens → calibrated probabilities (calibration is a layer inside
  it), with ``thresholds.json`` beside it.

Every probability is conditional on the lysine being modified: the training
windows are all modified lysines, so ``p_acetylation_given_modified`` says
how likely acetylation is *if* the lysine carries one of the four PTMs.
"""

import json
from pathlib import Path

import numpy as np

from deepbio.ptm.data import PTM_LABELS
from deepbio.data.fasta import check_ptm_windows
from deepbio.ptm.calibration import decode, mix_labels
from deepbio.core.safe_files import PICKLE_SUFFIXES, dump_object, load_object, refuse_pickle, write_bytes_atomically
from deepbio.core.loading import load_task_model, model_file
from deepbio.ptm.features import encode_windows, window_features
from deepbio.ptm.calibration import logit

PREDICTOR_FILE = "ptm_model.skops"
"""File name of a saved `WindowEnsemble` in a run folder (`save_ptm_predictor`)."""
LEGACY_PREDICTOR_FILE = "ptm_model.joblib"
"""The pickled model of older versions: refused, never unpickled."""
RETRAIN = ("retrain it with 'deepbio train ptm' (or 'deepbio run ptm'), which saves "
           f"{PREDICTOR_FILE}")


class WindowEnsemble:
    """Inner-fold ensemble of per-label models on flat window features, calibrated.

    Args:
        blocks: tuple of `deepbio.ptm.features.WINDOW_BLOCKS` names.
        members: list (one per inner fold) of lists (one per label) of fitted
            scikit-learn classifiers with ``predict_proba``, or of objects with
            ``label_proba`` (a label-powerset model); or, for a stack,
            a list of `WindowEnsemble` whose calibrated logits ``combiner``
            mixes.
        calibrator: fitted `deepbio.ptm.calibration.LabelCalibrator`.
        thresholds: float array (L,), calls are ``probability ≥ threshold``.
        labels: tuple of label letters (``a, c, m, s``).
        objective: str, what the thresholds were chosen for (``mcc``...).
        combiner: optional (L, members · L + 1) weights of a stack: each label's
            logistic regression on every member's logits of every label
            (intercept last).
        kind: str, the model type (``trees``, ``linear``, ``stack``).
        label_mixer: optional (L, L + 1) weights: each label's logistic
            regression on the logits of all L labels' mean scores (the
            label-correlation step), intercept last.
    """

    def __init__(self, blocks, members, calibrator, thresholds, labels=PTM_LABELS, objective="mcc",
                 combiner=None, kind="trees", label_mixer=None):
        self.blocks = tuple(blocks)
        self.members = members
        self.calibrator = calibrator
        self.thresholds = np.asarray(thresholds, np.float64)
        self.labels = tuple(labels)
        self.objective = objective
        self.combiner = combiner
        self.kind = kind
        self.label_mixer = label_mixer

    def raw_scores(self, features, mixed=True):
        """Uncalibrated scores (n, L) from flat ``features``: the mean over the inner-fold
        members, then (``mixed``) the label-correlation step."""
        if self.combiner is not None:
            parts = np.hstack([logit(m.calibrated(features)) for m in self.members])
            return 1.0 / (1.0 + np.exp(-(parts @ self.combiner[:, :-1].T + self.combiner[:, -1])))
        mean = np.mean([fold.label_proba(features) if hasattr(fold, "label_proba") else
                        np.column_stack([model.predict_proba(features)[:, 1] for model in fold])
                        for fold in self.members], axis=0)
        if not mixed or getattr(self, "label_mixer", None) is None:
            return mean
        return mix_labels(mean, self.label_mixer)

    def calibrated(self, features):
        """Calibrated probabilities (n, L) from flat features."""
        return self.calibrator.transform(self.raw_scores(features))

    def features(self, windows):
        """Flat features of ``windows`` (the stack's members share them)."""
        return window_features(windows, self.feature_blocks())

    def feature_blocks(self):
        if self.combiner is None:
            return self.blocks
        return tuple(dict.fromkeys(b for m in self.members for b in m.feature_blocks()))

    def predict_proba(self, windows):
        """Calibrated probabilities (n, L), conditional on the lysine being modified.

        Args:
            windows: list of str, 49-residue K-centred windows (``-`` as
                padding beyond a protein's ends).
        """
        windows = _checked(windows)
        if not windows:
            return np.zeros((0, len(self.labels)))
        return self._predict_features(self.features(windows))

    def _predict_features(self, features):
        if self.combiner is None:
            return self.calibrated(features)
        # each member reads its own columns of the shared feature matrix
        return self.calibrator.transform(self.raw_scores(features))


class KerasPredictor:
    """``model.keras`` (tokens → calibrated probabilities) and its thresholds."""

    def __init__(self, model, thresholds, labels=PTM_LABELS, objective="exact"):
        self.model = model
        self.thresholds = np.asarray(thresholds, np.float64)
        self.labels = tuple(labels)
        self.objective = objective

    def predict_proba(self, windows, batch_size=1024):
        windows = _checked(windows)
        if not windows:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.model.predict(encode_windows(windows), batch_size=batch_size,
                                             verbose=0), np.float64)


def _checked(windows):
    windows = list(windows)
    if windows:
        check_ptm_windows(windows, None, "input", padding=True)
    return windows


def decide(predictor, probabilities):
    """The calls of ``predictor`` (int (n, L)): ``probability ≥ threshold``.

    Under the ``mcc``/``exact`` objectives an empty set gets its label furthest
    above (or least below) its threshold, since every window of the benchmark
    carries a PTM; under ``precision=P`` a lysine may get no call.
    """
    if str(getattr(predictor, "objective", "exact")).startswith("precision"):
        return (np.asarray(probabilities) >= predictor.thresholds).astype(np.int32)
    return decode(np.asarray(probabilities), predictor.thresholds)


def save_ptm_predictor(predictor, path):
    """Saves a `WindowEnsemble` atomically with ``skops.io`` (no pickle).

    Args:
        predictor: the `WindowEnsemble`.
        path: the file, normally ``<run folder>/ptm_model.skops``.

    Raises:
        ValueError: the model holds a type outside the loading allow-list.
    """
    import zipfile

    write_bytes_atomically(dump_object(predictor, zipfile.ZIP_DEFLATED), path)


def _load_window_ensemble(path):
    if path.suffix.lower() in PICKLE_SUFFIXES:
        refuse_pickle(path, RETRAIN)
    if not path.is_file():
        raise FileNotFoundError(f"model {path} not found; train one with 'deepbio train ptm'")
    predictor = load_object(path.read_bytes(), f"model {path}")
    if not isinstance(predictor, WindowEnsemble):
        raise ValueError(f"model {path} holds a {type(predictor).__name__}, not a PTM model")
    return predictor


def load_ptm_predictor(path):
    """The PTM predictor saved in a run folder or model file; nothing in it runs.

    Args:
        path: a run folder (``ptm_model.skops`` preferred, else
            ``model.keras``), a ``ptm_model.skops`` or a ``model.keras``.

    Returns:
        An object with ``predict_proba(windows: list[str]) -> (n, 4)``
        calibrated probabilities (conditional on the lysine being modified),
        ``thresholds`` (4,) and ``labels`` (``a, c, m, s``), plus
        ``objective`` (what the thresholds were chosen for).

    Raises:
        FileNotFoundError: nothing to load at ``path``.
        ValueError: a file that is not a PTM model (named), a skops file
            naming a type outside the allow-list, a ``.keras`` model that
            needs unsafe deserialization (a ``Lambda`` layer), or a pickled
            ``ptm_model.joblib`` of an older version (not opened).
    """
    path = Path(path)
    if path.is_dir():
        if (path / PREDICTOR_FILE).is_file():
            path = path / PREDICTOR_FILE
        elif (path / LEGACY_PREDICTOR_FILE).is_file() and not (path / "model.keras").is_file():
            path = path / LEGACY_PREDICTOR_FILE
    if path.suffix.lower() in (".skops", ".joblib", ".pkl", ".pickle"):
        return _load_window_ensemble(path)

    path = model_file(path, "ptm")
    model = load_task_model(path, "ptm", check_ptm_model)
    thresholds, objective = np.full(len(PTM_LABELS), 0.5), "exact"
    threshold_file = path.parent / "thresholds.json"
    if threshold_file.is_file():
        try:
            saved = json.loads(threshold_file.read_text())
            thresholds = np.asarray(saved["thresholds"], float)
            objective = saved.get("objective", "exact")
            if thresholds.shape != (len(PTM_LABELS),):
                raise ValueError(f"{len(thresholds)} values")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ValueError(f"{threshold_file}: not a thresholds file of {len(PTM_LABELS)} "
                             f"values ({error}); delete it to use 0.5 or retrain") from None
    return KerasPredictor(model, thresholds, objective=objective)


def check_ptm_model(model):
    """None when ``model`` is a PTM sequence model (49 residue tokens in), else what does not fit."""
    shape = tuple(model.inputs[0].shape) if model.inputs else ()
    if model.name != "ptm_sequence_model" or shape[1:] != (49,):
        return (f"its input is {shape[1:]} (a PTM model takes 49 residue tokens); "
                f"train one with 'deepbio train ptm'")
    return None
