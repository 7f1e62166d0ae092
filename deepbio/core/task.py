"""The task framework: run configurations, the `Task` protocol and the registry.

Every task (ptm, rnamod, motif, pretrain, binding) plugs in the same way:

* a config dataclass that extends `TrainingConfig` (and the mixins it needs:
  `EarlyStoppingConfig`, `CrossValidationConfig`, `TransformerSizeConfig`);
  each field is declared with `option`, whose help text and bounds become the
  task's command-line flag (`deepbio run TASK --help`);
* a `Task` subclass with ``name``, ``config_class``, ``description``,
  ``example`` and the modes it supports: `Task.run` (train, evaluate,
  interpret), `Task.train` (training only), `Task.predict` and, where it has
  one, `Task.interpret`;
* a module ``task.py`` (or ``*_task.py``) in the method's package defining
  ``TASK``: `discover_tasks` finds it, so a new method is one new folder; or,
  from another installed package, an entry point in the group
  ``deepbio.tasks`` naming its `Task` (``toy = mypackage.toy:TASK``).

Discovery imports the task modules, which import neither Keras nor
TensorFlow at their top, so the command line can print its help and fail on
bad flags before TensorFlow starts.
"""

import dataclasses
import functools
import importlib
import importlib.metadata
import json
import math
import typing
from pathlib import Path

from deepbio.core.loading import load_task_model

MODES = ("run", "train", "predict", "interpret", "tune")


def option(default=None, help=None, *, minimum=None, maximum=None, choices=None, flag=None,
           parse=None, metavar=None, default_factory=None, cli=True, nullable=None):
    """A config field with its command-line flag.

    Args:
        default: the field's default.
        help: str, the flag's help text (required for fields that are flags).
        minimum, maximum: optional inclusive bounds checked by
            `TrainingConfig.validate` (numbers only; None is allowed when the
            default is None).
        choices: optional allowed values.
        flag: optional flag name without ``--`` (default: the field name with
            dashes).
        parse: optional callable str → value for the flag (tuples default to
            comma-separated items of the annotated item type).
        metavar: optional placeholder shown in help.
        default_factory: for mutable defaults (nested configs).
        cli: bool, False for fields that are not flags (nested configs).
        nullable: bool, whether None is a valid value (a profile's "no
            limit"); default: only when the default is None. A null for a
            field that is not nullable is refused (``--config`` files).

    Returns:
        A `dataclasses.field`.
    """
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices,
                "flag": flag, "parse": parse, "metavar": metavar, "cli": cli,
                "nullable": (default is None and default_factory is None) if nullable is None
                else nullable}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def field_metadata(cls, name):
    """A field's `option` metadata, looked up along the MRO.

    A subclass that only changes a default (``epochs: int = 60``) inherits
    its base's help text and bounds.
    """
    for klass in cls.__mro__:
        fields = getattr(klass, "__dataclass_fields__", {})
        if name in fields and fields[name].metadata:
            return dict(fields[name].metadata)
    return {"help": None, "cli": True}


@dataclasses.dataclass
class TrainingConfig:
    """Fields every task shares; each task's config extends it.

    Attributes:
        epochs: int ≥ 1. Maximum training epochs per model.
        batch_size: int ≥ 1. Examples per training step (the global batch).
        learning_rate: float > 0. Peak optimizer learning rate.
        seed: int. Seeds Python, NumPy, Keras, data splits and samplers.
        mixed_precision: bool. ``mixed_float16`` compute with float32
            outputs (for GPUs).
        deterministic: bool. TensorFlow op determinism
            (``tf.config.experimental.enable_op_determinism``): the same
            command gives the same report on the same machine.
        strategy: str. The `tf.distribute` strategy models are built and
            trained under: ``auto`` (`MirroredStrategy` when more than one
            GPU is visible, else the default), ``one-device``, ``mirrored``
            (all local GPUs, or the ``cpu_replicas`` logical CPUs) or
            ``multi-worker`` (`tf.distribute.MultiWorkerMirroredStrategy`
            over the workers of ``TF_CONFIG`` or a Slurm job; PTM only).
        cpu_replicas: int. Split the CPU into this many logical devices, so
            mirrored training can be exercised without GPUs (0: off).
        jit_compile: str. XLA compilation of the training and prediction
            steps: ``auto`` (Keras's rule: on when a GPU is visible, no
            distribution strategy is used and op determinism is off; off on
            CPU), ``on`` (needs ``deterministic=False``) or ``off``.
    """

    epochs: int = option(10, "maximum training epochs per model", minimum=1)
    batch_size: int = option(32, "examples per training step", minimum=1)
    learning_rate: float = option(1e-3, "peak learning rate of the optimizer", minimum=1e-12)
    seed: int = option(0, "random seed (Python, NumPy, Keras, splits, samplers)", minimum=0)
    mixed_precision: bool = option(False, "mixed_float16 compute, float32 outputs (use on a GPU)")
    deterministic: bool = option(True, "TensorFlow op determinism, so the same command repeats "
                                       "exactly on one machine (--no-deterministic: faster)")
    strategy: str = option("auto", "tf.distribute strategy: auto (mirrored over all GPUs when "
                                   "there are several), one-device, mirrored, multi-worker "
                                   "(TF_CONFIG or Slurm)",
                           choices=("auto", "one-device", "mirrored", "multi-worker"))
    cpu_replicas: int = option(0, "split the CPU into N logical devices for mirrored training "
                                  "without GPUs (0: off)", minimum=0, maximum=64)
    jit_compile: str = option("auto", "XLA compilation of training steps: auto (on with a GPU and "
                                      "no strategy, off on CPU), on, off",
                              choices=("auto", "on", "off"))

    def keras_jit_compile(self):
        """``jit_compile`` as `keras.Model.compile` takes it: ``"auto"``, True or False."""
        return {"auto": "auto", "on": True, "off": False}[self.jit_compile]

    def function_jit_compile(self):
        """``jit_compile`` for a custom loop's ``tf.function``: Keras's ``auto`` rule resolved."""
        if self.jit_compile != "auto":
            return self.jit_compile == "on"
        import tensorflow as tf

        gpu = any(d.device_type != "CPU" for d in tf.config.list_physical_devices())
        return gpu and not tf.distribute.has_strategy() and not self.deterministic

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Checks every field against its declared bounds and choices.

        Raises:
            ValueError: naming the field, its flag, the bound and the value.
        """
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            meta = field_metadata(type(self), field.name)
            value = getattr(self, field.name)
            flag = "--" + (meta.get("flag") or field.name.replace("_", "-"))
            if _is_tuple(hints.get(field.name)) and isinstance(value, list):
                value = tuple(value)
                setattr(self, field.name, value)
            if value is None:
                continue
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, float) and not math.isfinite(item):
                    raise ValueError(f"{field.name} ({flag}) must be a finite number, got {item!r}")
            if meta.get("choices") is not None:
                items = value if isinstance(value, tuple) else (value,)
                bad = [v for v in items if v not in meta["choices"]]
                if bad:
                    raise ValueError(f"{field.name} ({flag}) must be one of "
                                     f"{', '.join(map(str, meta['choices']))}; got {bad[0]!r}")
            for bound, compare, word in (("minimum", lambda v, b: v < b, "at least"),
                                         ("maximum", lambda v, b: v > b, "at most")):
                limit = meta.get(bound)
                if limit is None or isinstance(value, bool):
                    continue
                items = value if isinstance(value, tuple) else (value,)
                for item in items:
                    if isinstance(item, (int, float)) and compare(item, limit):
                        raise ValueError(f"{field.name} ({flag}) must be {word} {limit:g}, got {item!r}")
        if getattr(self, "jit_compile", None) == "on" and getattr(self, "deterministic", False):
            raise ValueError("--jit-compile on needs --no-deterministic: XLA kernels are not "
                             "covered by TensorFlow's op determinism (Keras turns XLA off under it)")


@dataclasses.dataclass
class EarlyStoppingConfig:
    """Mixin: early stopping on validation data."""

    patience: int = option(5, "early-stopping patience: epochs without a better validation "
                              "score", minimum=1)


@dataclasses.dataclass
class CrossValidationConfig:
    """Mixin: k-fold cross-validation on the training data."""

    folds: int = option(5, "cross-validation folds (0 skips cross-validation, else at least 2)",
                        minimum=0)

    def validate(self):
        super().validate()
        if self.folds == 1:
            raise ValueError("folds (--folds) must be 0 (no cross-validation) or at least 2, got 1")


@dataclasses.dataclass
class TransformerSizeConfig:
    """Mixin: transformer sizes, with KerasHub's argument names."""

    hidden_dim: int = option(64, "transformer width (model dimension)", minimum=1)
    num_heads: int = option(8, "attention heads", minimum=1)
    num_layers: int = option(2, "transformer layers", minimum=1)
    intermediate_dim: int = option(64, "feed-forward width", minimum=1)


@dataclasses.dataclass
class PredictConfig:
    """What ``deepbio predict TASK`` hands the task (`Task.predict`).

    The command line fills the first five from its shared flags; a task that
    needs more declares a subclass with `option` fields (they become its
    ``predict`` flags) as its ``predict_config_class``.

    Attributes:
        model: str, the trained model (a preset resolved to its folder, a run
            folder or a model file).
        input: str, a readable input file (standard input is copied first).
        chunk_size: int or None, records read, scored and written at a time.
        shard: ``(i, n)`` or None, score only records k with k % n == i - 1.
        verbose: int, 0 silent, 1 progress, 2 also TensorFlow's log.
    """

    model: str = option(None, cli=False)
    input: str = option(None, cli=False)
    chunk_size: int = option(None, cli=False)
    shard: tuple = option(None, cli=False)
    verbose: int = option(1, cli=False)


@dataclasses.dataclass
class InterpretConfig:
    """What ``deepbio interpret TASK`` hands a task whose interpretation needs no run config.

    Attributes:
        model: str, the trained model (resolved like `PredictConfig.model`).
        input: str, a readable input file.
        seed: int, seeds any sampling of the interpretation.
        verbose: int, 0 silent, 1 progress, 2 also TensorFlow's log.
    """

    model: str = option(None, cli=False)
    input: str = option(None, cli=False)
    seed: int = option(0, cli=False)
    verbose: int = option(1, cli=False)


@dataclasses.dataclass
class ConvertConfig:
    """What ``deepbio convert FORMAT CHECKPOINT --output DIR`` hands a converter.

    A converter (a task's ``converters`` entry) is an object with ``brief``,
    ``config_class`` (this class or a subclass with `option` fields: its
    flags) and ``convert(config) -> str``.

    Attributes:
        checkpoint: str, the published checkpoint file.
        output: str, the folder for the converted models.
    """

    checkpoint: str = option(None, cli=False)
    output: str = option(None, cli=False)


def _is_tuple(annotation):
    return annotation is tuple or typing.get_origin(annotation) is tuple


def tuple_item_type(annotation):
    """The item type of ``tuple[int, ...]`` (``str`` for a bare ``tuple``)."""
    args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
    return args[0] if args else str


def config_fields(config_class):
    """``[(field, metadata, annotation)]`` of the fields that are flags."""
    hints = typing.get_type_hints(config_class)
    result = []
    for field in dataclasses.fields(config_class):
        meta = field_metadata(config_class, field.name)
        if meta.get("cli", True):
            result.append((field, meta, hints.get(field.name)))
    return result


def config_from_dict(config_class, values, source="config"):
    """A config of ``config_class`` from a dict (nested dataclasses from nested dicts).

    Raises:
        ValueError: an unknown key (naming ``source``) or a bad value.
    """
    names = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{source}: unknown parameter(s) {unknown} for {config_class.__name__}")
    converted = {}
    hints = typing.get_type_hints(config_class)
    for key, value in values.items():
        annotation = hints.get(key)
        nullable = field_metadata(config_class, key).get("nullable", True) or \
            names[key].default is None
        if value is None and not nullable:
            wanted = "a finite number" if annotation is float else "a value"
            default = names[key].default
            shown = "" if default is dataclasses.MISSING else f" (default {default!r})"
            raise ValueError(f"{source}: {key} is null; it needs {wanted}{shown}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{source}: {key} must be a finite number, got {value!r}")
        if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            value = config_from_dict(annotation, value, f"{source}: {key}")
        elif _is_tuple(annotation) and isinstance(value, list):
            value = tuple(value)
        converted[key] = value
    return config_class(**converted)


def read_params(path, task_name, config_class):
    """The config values saved in a run's ``params.json`` (for ``--config``).

    Keys ``task``, ``mode`` and ``run`` (run metadata) are skipped; every
    other key must be a field of ``config_class``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, not an object, another task's parameters or an
            unknown key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--config {path}: not a JSON parameters file ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {path}: expected a JSON object of parameters")
    if values.get("task", task_name) != task_name:
        raise ValueError(f"--config {path}: parameters of task {values['task']!r}, not {task_name!r}")
    values = {k: v for k, v in values.items() if k not in ("task", "mode", "run")}
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"--config {path}: unknown parameter(s) {unknown} for task {task_name}")
    return values


class Task:
    """A task's entry points; subclasses set the class attributes and override the modes.

    Attributes:
        name: str, the registry name (``deepbio run NAME``).
        brief: str, one line for ``deepbio --help``.
        rank: int, the task's place in listings (smaller first).
        config_class: a `TrainingConfig` subclass.
        description: str, one paragraph for ``--help``.
        example: str, a short example command line.
        profiles: dict, run-size profile name → callable returning a base
            config (``--profile``); empty when the task has one size.
        predict_input: str, what ``predict --input`` takes (empty: no
            predict mode).
        interpret_input: str, what ``interpret --input`` takes (empty: no
            interpret mode).
        predict_config_class: a `PredictConfig` subclass (its `option`
            fields are the task's ``predict`` flags).
        benchmark: str or None, ``"module:function"`` naming the task's
            training workload for ``benchmarks/gpu_check.py``
            (`deepbio.core.benchmarking`): ``workload(config, rng, seconds)``
            returns a `deepbio.core.benchmarking.Measurement`; its optional
            ``config_changes`` dict adjusts the run config first.
        converters: dict, ``deepbio convert`` format → ``(one line,
            "module:object")`` naming a converter (see `ConvertConfig`).
        interpret_config_class: `InterpretConfig`, or the task's run config
            class when interpreting takes the run's flags (it then has
            ``model`` and ``input`` fields).
        tunable: bool, whether ``deepbio tune`` searches it (`search_space`).
        multi_worker: bool, whether ``--strategy multi-worker`` is supported.
        keras_modules: tuple of module names whose import registers the
            task's custom Keras objects (``import deepbio`` imports them once
            Keras is imported, so saved models load anywhere).
        tiny_flags: tuple of str, the flags of a tiny run of the task on a
            slice of the real data (seconds on a CPU), which the tests share.
        web: str or None, ``"module:object"`` naming the task's tab of the
            web page (`deepbio.serve`); None: no tab.
    """

    name = ""
    brief = ""
    rank = 100
    config_class = TrainingConfig
    description = ""
    example = ""
    profiles = {}
    predict_input = ""
    interpret_input = ""
    tunable = False
    multi_worker = False
    keras_modules = ()
    tiny_flags = ()
    web = None
    predict_config_class = PredictConfig
    interpret_config_class = InterpretConfig
    converters = {}
    benchmark = None

    def base_config(self, profile=None):
        """The config of ``profile`` (or the class defaults)."""
        if self.profiles:
            return self.profiles[profile or "cpu"]()
        return self.config_class()

    def load_model(self, path):
        """The task's trained model at ``path`` (a ``.keras`` file), loaded in safe mode.

        Override where a task's model is more than one Keras file (the PTM
        predictor); `deepbio.presets.load` calls it.

        Raises:
            FileNotFoundError, ValueError: see `deepbio.core.loading.load_task_model`.
        """
        return load_task_model(path, self.name, compile=True)

    def finish_config(self, config, given):
        """The run config once the command line has set the fields named in ``given`` (a set).

        Override where one flag also sets a nested config (the binding
        task's in-run pre-training); the default returns ``config``.
        """
        return config

    def run(self, config, folder):
        """Trains, evaluates and interprets; returns the report dict."""
        raise NotImplementedError

    def train(self, config, folder):
        """Trains only (no test split, no interpretation); returns the report dict."""
        return self.run(config, folder)

    def predict(self, config, output):
        """Scores ``config.input`` with ``config.model`` into the CSV ``output``.

        Args:
            config: a ``predict_config_class`` instance.
            output: str, the CSV path (written atomically).

        Returns:
            str, one summary line.
        """
        raise NotImplementedError

    def interpret(self, config, folder):
        """Writes interpretation outputs of ``config.input`` into ``folder`` (a `RunFolder`).

        Args:
            config: an ``interpret_config_class`` instance, ``model`` and
                ``input`` set.
            folder: the run folder; the framework writes its ``params.json``
                and ``report.json``.

        Returns:
            The report dict; its ``"lines"`` (if any) are printed.
        """
        raise NotImplementedError

    def summary(self, report):
        """Lines printed after a run (the headline metrics beside their baselines)."""
        return []

    def search_space(self, hp, config):
        """Declares the hyper-parameters ``deepbio tune`` searches on ``hp`` (keras-tuner).

        Names are config fields (or names `search_changes` maps onto them);
        ``config`` is the base config. Tasks with ``tunable = True`` override it.
        """
        raise NotImplementedError

    def search_changes(self, values, config):
        """Config changes of a trial's hyper-parameter ``values`` (default: the values)."""
        return dict(values)

    def tuning_objective(self, report):
        """The validation score a search maximises, from a ``train`` report."""
        raise NotImplementedError


ENTRY_POINT_GROUP = "deepbio.tasks"


def _builtin_task_modules():
    """Names of the modules ``deepbio.<method>[.<part>].task`` / ``*_task`` in deepbio's folders."""
    root = Path(__file__).resolve().parent.parent
    names = []
    for task_file in sorted(root.glob("*/task.py")) + sorted(root.glob("*/*_task.py")) + \
            sorted(root.glob("*/*/task.py")):
        parts = task_file.relative_to(root).with_suffix("").parts
        if parts[0] not in ("core", "serve"):
            names.append(".".join(("deepbio",) + parts))
    return names


@functools.lru_cache(maxsize=None)
def discover_tasks():
    """Every task: deepbio's own, then those installed under the ``deepbio.tasks`` entry points.

    Returns:
        dict, task name → `Task`, ordered by ``Task.rank`` then name.

    Raises:
        ValueError: a module or entry point without a `Task`, or two tasks
            of one name (naming both).
    """
    found, origin = {}, {}
    sources = [(name, lambda name=name: importlib.import_module(name).TASK)
               for name in _builtin_task_modules()]
    sources += [(f"entry point {ep.name} = {ep.value}", ep.load)
                for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for where, load in sources:
        task = load()
        if isinstance(task, type):
            task = task()
        if not isinstance(task, Task) or not task.name:
            raise ValueError(f"{where}: expected a deepbio Task with a name, got {task!r}")
        if task.name in found:
            raise ValueError(f"two tasks are named {task.name!r}: {origin[task.name]} and {where}")
        found[task.name], origin[task.name] = task, where
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


def task_names():
    """The discovered task names (`discover_tasks`)."""
    return list(discover_tasks())


def get_task(name):
    """The `Task` named ``name``.

    Raises:
        ValueError: an unknown task name.
    """
    tasks = discover_tasks()
    if name not in tasks:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(tasks)}")
    return tasks[name]


def converters():
    """Every task's converters: format → ``(one line, "module:object")``.

    Raises:
        ValueError: two tasks declaring one format.
    """
    found = {}
    for task in discover_tasks().values():
        for name, entry in task.converters.items():
            if name in found:
                raise ValueError(f"two tasks declare the converter {name!r}")
            found[name] = entry
    return found


def load_object(reference):
    """The object a ``"module:name"`` reference names (imports the module)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def keras_modules():
    """The modules whose import registers the discovered tasks' Keras objects."""
    return [module for task in discover_tasks().values() for module in task.keras_modules]
