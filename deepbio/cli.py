"""The ``deepbio`` command: ``deepbio {run,train,predict,interpret} TASK [flags]``.

``python main.py --task X`` and ``python train.py --task X`` are the classic
scripts; they translate their arguments (`legacy_argv`) and call `main`.

Every failure a user can cause ends as one line on stderr,
``deepbio: error: <what, where, how to fix>``, with exit status 2 (bad usage or
bad input) or 1 (anything else); ``--debug`` shows the traceback instead.
Flags are generated from the chosen task's config (`deepbio.core.task`), so
``deepbio run ptm --help`` lists only what ptm takes, with defaults, and a
flag another task takes is an error.
"""

import argparse
import contextlib
import dataclasses
import os
import sys
import textwrap
import traceback
import warnings

from deepbio.presets import command as presets_command
from deepbio.core.io import terminate_like_interrupt
from deepbio.core.flags import (_parse_scalar, add_config_flags,  # noqa: F401
                                build_config, mode_config)  # (build_config, mode_config: re-exported)
from deepbio.core.task import MODES, converters, discover_tasks, get_task, load_object
from deepbio.core.predict_stream import DEFAULT_CHUNK_SIZE, parse_shard
from deepbio.core.run_folder import check_output_dir, make_strategy
from deepbio.core.io import check_output_file, readable_input
from deepbio.presets import resolve_model, runs_folder
from deepbio.core.tuning import tune

PROG = "deepbio"
EXIT_USAGE = 2
EXIT_FAILURE = 1
MODE_HELP = {
    "run": "train, evaluate and interpret (the full pipeline; = python main.py --task TASK)",
    "train": "train only: cross-validation and the final model (= python train.py --task TASK)",
    "predict": "predict new sequences with a trained model (--model, --input)",
    "interpret": "saliency / ISM / motif scores of a trained model on sequences (--model, --input)",
    "tune": "hyper-parameter search with keras-tuner on validation data (--tuner, --trials)",
}


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``deepbio: error: ...``, exit status 2."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32, width=100)


def _one_line(text):
    return " ".join(str(text).split())


def _add_common(parser, task_name, mode):
    group = parser.add_argument_group("run options")
    if mode == "predict":
        group.add_argument("--output", default=None, metavar="PATH",
                           help=f"a .csv file, or a folder for predictions.csv "
                                f"(default runs/{task_name}/predictions.csv)")
    else:
        group.add_argument("--output", default=None, metavar="DIR",
                           help=f"output folder (default runs/{task_name})")
    group.add_argument("--data-dir", default=None, metavar="DIR",
                       help="local data mirror (default $DEEPBIO_DATA, then the Keras cache)")
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress (bars on a terminal, a line per epoch "
                            "otherwise), 2 also TensorFlow's own log (default 1)")
    group.add_argument("--debug", action="store_true",
                       help="show the Python traceback of a failure")
    return group


def _positive_int(flag):
    def parse(text):
        value = _parse_scalar(int, flag)(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
        return value
    return parse


def _shard(text):
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_stream_flags(group):
    """``--chunk-size`` and ``--shard`` of ``deepbio predict`` (`deepbio.core.predict_stream`)."""
    group.add_argument("--chunk-size", type=_positive_int("chunk-size"), default=DEFAULT_CHUNK_SIZE,
                       metavar="N",
                       help=f"sites / windows / complexes read, scored and written at a time; "
                            f"memory grows with it, not with the input (default {DEFAULT_CHUNK_SIZE})")
    group.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                       help="score only records k (0-based, file order) with k %% N == I-1; the N "
                            "shards' outputs together hold every record once (default: all)")
    group.add_argument("--strategy", choices=("one-device", "mirrored"), default="one-device",
                       help="mirrored: the Keras model is loaded under tf.distribute's "
                            "MirroredStrategy and each batch is split over all local GPUs (or "
                            "--cpu-replicas logical CPUs); default one-device")
    group.add_argument("--cpu-replicas", type=int, default=0, metavar="N",
                       help="split the CPU into N logical devices for --strategy mirrored "
                            "without GPUs (default 0: off)")


@contextlib.contextmanager
def _prediction_strategy(args):
    """The scope of ``deepbio predict``'s `tf.distribute` strategy (nothing for one-device)."""
    if args.strategy == "one-device":
        if args.cpu_replicas:
            raise ValueError("--cpu-replicas needs --strategy mirrored")
        yield
        return

    if not 0 <= args.cpu_replicas <= 64:
        raise ValueError(f"--cpu-replicas must be between 0 and 64, got {args.cpu_replicas}")
    with make_strategy(args.strategy, args.cpu_replicas).scope():
        yield


def _task_parser(subparsers, task, mode):
    description = textwrap.fill(task.description, 96)
    if task.example:
        description += "\n\nexample:\n  " + task.example.replace("\n", "\n  ")
    parser = subparsers.add_parser(task.name, help=task.brief, description=description,
                                   formatter_class=_formatter)
    group = _add_common(parser, task.name, mode)
    if mode == "tune":
        tuning = parser.add_argument_group("search")
        tuning.add_argument("--tuner", choices=("bayesian", "hyperband", "random"),
                            default="bayesian", help="keras-tuner oracle (default bayesian)")
        tuning.add_argument("--trials", type=int, default=10, metavar="N",
                            help="the most trials (default 10)")
        tuning.add_argument("--max-minutes", type=_parse_scalar(float, "max-minutes"), default=None,
                            metavar="X",
                            help="start no new trial after this many minutes")
    if mode in ("run", "train"):
        group.add_argument("--restart", action="store_true",
                           help="start afresh instead of resuming an interrupted run in --output")
    if mode in ("run", "train", "tune"):
        group.add_argument("--config", metavar="PARAMS.json", default=None,
                            help="start from a run's params.json (flags given here override it)")
        if task.profiles:
            group.add_argument("--profile", choices=sorted(task.profiles), default="cpu",
                                help="run size: 'cpu' fits a 2-core CPU, 'gpu' the upstream / "
                                     "paper settings (default cpu)")
        add_config_flags(parser, task)
    else:
        what = task.predict_input if mode == "predict" else task.interpret_input
        group.add_argument("--model", default=None, metavar="MODEL",
                            help="a trained model: a preset name (see 'deepbio presets'), a run "
                                 "folder or its model file (default: the task's preset)")
        group.add_argument("--input", required=True, metavar="FILE", help=what)
        if mode == "predict":
            _add_stream_flags(group)
        config_class = task.predict_config_class if mode == "predict" else task.interpret_config_class
        add_config_flags(parser, task, skip=("model", "input"), config_class=config_class)
    return parser


def build_parser(argv=()):
    """The argument parser; only the task named in ``argv`` gets its flags (lazy import)."""
    parser = _Parser(prog=PROG, formatter_class=_formatter, description=(
        "deepbio: deep learning on biological sequences (Keras 3 / TensorFlow).\n\n"
        "tasks:\n" + "\n".join(textwrap.fill(task.brief, 96, initial_indent=f"  {name:<9} ",
                                     subsequent_indent=" " * 12)
                       for name, task in discover_tasks().items()) +
        "\n\nexit status: 0 success, 2 bad usage or bad input, 1 other failures."),
        epilog="example: deepbio run ptm --epochs 5   ·   deepbio run ptm --help")
    modes = parser.add_subparsers(dest="mode", metavar="{" + ",".join((*MODES, "convert", "serve", "presets")) + "}",
                                  required=True)
    argv = list(argv)
    chosen_mode = argv[0] if argv and argv[0] in MODES else None
    chosen_task = argv[1] if chosen_mode and len(argv) > 1 and argv[1] in discover_tasks() else None
    _add_convert(modes, argv)
    _add_serve(modes)
    presets_command.add_parser(modes, _formatter)
    for mode in MODES:
        sub = modes.add_parser(mode, help=MODE_HELP[mode], description=MODE_HELP[mode],
                               formatter_class=_formatter)
        tasks = sub.add_subparsers(dest="task", metavar="TASK", required=True)
        for name, task in discover_tasks().items():
            if mode == chosen_mode and name == chosen_task:
                quiet_tensorflow(show_logs=_wants_logs(argv))
                if (mode == "predict" and not task.predict_input) or (
                        mode == "interpret" and not task.interpret_input) or (
                        mode == "tune" and not task.tunable):
                    raise UsageError(f"task {name} has no {mode} mode; see '{PROG} --help'")
                _task_parser(tasks, task, mode)
            else:
                tasks.add_parser(name, help=task.brief)
    return parser


def _add_convert(modes, argv):
    """``deepbio convert FORMAT``: one sub-command per converter the tasks declare."""
    sub = modes.add_parser("convert", help="convert published checkpoints to deepbio .keras models",
                           description="convert published checkpoints to deepbio .keras models",
                           formatter_class=_formatter)
    kinds = sub.add_subparsers(dest="task", metavar="FORMAT", required=True)
    chosen = argv[1] if len(argv) > 1 and argv[0] == "convert" else None
    for name, (brief, reference) in converters().items():
        if name != chosen:
            kinds.add_parser(name, help=brief)
            continue
        quiet_tensorflow(show_logs=_wants_logs(argv))
        converter = load_object(reference)
        parser = kinds.add_parser(name, help=brief, description=brief + ". The checkpoint is read "
                                  "without running any of its code.", formatter_class=_formatter)
        parser.add_argument("checkpoint", metavar="CHECKPOINT", help="the published checkpoint file")
        parser.add_argument("--output", required=True, metavar="DIR", help="folder for the models")
        parser.add_argument("--debug", action="store_true",
                            help="show the Python traceback of a failure")
        parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                            help=argparse.SUPPRESS)
        add_config_flags(parser, None, skip=("checkpoint", "output"),
                          config_class=converter.config_class)


def _convert(args):
    check_output_dir(args.output)
    quiet_tensorflow(show_logs=args.debug)
    converter = load_object(converters()[args.task][1])
    config = mode_config(converter.config_class, args, checkpoint=args.checkpoint,
                         output=args.output)
    return converter.convert(config)


SERVE_HELP = "a web page (Gradio) over the trained models of a runs folder"


def _add_serve(modes):
    sub = modes.add_parser("serve", help=SERVE_HELP, formatter_class=_formatter, description=(
        textwrap.fill(SERVE_HELP + ": one tab per task (ptm, rnamod, motif, binding), each serving "
                      "its run folder's model with that run's metric beside the trivial baseline. "
                      "Needs the web extra: pip install -e \".[web]\".", 96)), epilog=(
        "example: deepbio serve --runs runs/   (then open http://127.0.0.1:7860/)\n\n" +
        textwrap.fill("warning: --host 0.0.0.0 makes the page (and the models) reachable by anyone "
                      "who can reach this machine, without login or TLS; the default 127.0.0.1 "
                      "serves this machine only.", 96)))
    sub.add_argument("--runs", default=None, metavar="DIR",
                     help="folder of run folders: DIR/ptm, DIR/rnamod, DIR/motif, DIR/binding "
                          "(default: the presets that ship with deepbio, see 'deepbio presets')")
    sub.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                     help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 "
                          "exposes the page to the network, see the warning below)")
    sub.add_argument("--port", type=int, default=7860, metavar="N",
                     help="port to listen on (default 7860)")
    sub.add_argument("--data-dir", default=None, metavar="DIR",
                     help="local data mirror, for the motif demo set and the examples "
                          "(default $DEEPBIO_DATA)")
    sub.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                     help="0 quiet, 1 the address, 2 also Gradio's own log (default 1)")
    sub.add_argument("--debug", action="store_true", help="show the Python traceback of a failure")

    def strict(args=None, namespace=None, _parse=sub.parse_known_args):  # no task: extras here
        namespace, extras = _parse(args, namespace)
        if extras:
            sub.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras
    sub.parse_known_args = strict


def _serve(args):
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be in 1..65535, got {args.port}")
    if args.runs is None:
        args.runs = runs_folder()
    if not os.path.isdir(args.runs):
        raise UsageError(f"--runs {args.runs}: no such folder; train a model first (e.g. "
                         f"'deepbio run ptm --output {os.path.join(args.runs, 'ptm')}')")
    quiet_tensorflow(show_logs=args.debug or args.verbose == 2)
    try:
        from deepbio.serve import serve
        import gradio  # noqa: F401
    except ImportError as error:
        raise UsageError(f"deepbio serve needs Gradio ({_one_line(error)}); install it with "
                         f"pip install -e \".[web]\"") from None
    try:
        return serve(args.runs, args.host, args.port, data_dir=args.data_dir, verbose=args.verbose)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({_one_line(error)}); pick "
                         f"another --port or --host") from None


def _keras_verbosity(verbose):
    return 0 if verbose == 0 else (1 if sys.stdout.isatty() else 2)


def _wants_logs(argv):
    """``--debug`` or ``--verbose 2`` show TensorFlow's own log."""
    return "--debug" in argv or "--verbose=2" in argv or any(
        a == "--verbose" and b == "2" for a, b in zip(argv, argv[1:]))


def quiet_tensorflow(show_logs=False):
    """Imports TensorFlow with its C++ start-up log silenced (unless ``show_logs`` or the user set
    ``TF_CPP_MIN_LOG_LEVEL``)."""
    if show_logs or "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        import tensorflow as tf  # absl writes to fd 2 before its log level applies
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("ERROR")  # retracing notices and other Python-side warnings


def _execute(args):
    from deepbio.core.run_folder import RunFolder, check_output_dir, run_task

    if args.mode == "convert":
        print(_convert(args))
        return 0
    if args.mode == "serve":
        return _serve(args)
    if args.mode == "presets":
        return presets_command.run(args, quiet_tensorflow, main)
    task = get_task(args.task)
    if args.mode in ("predict", "interpret"):
        args.model = resolve_model(task.name, args.model, args.mode)
    verbose = _keras_verbosity(args.verbose)
    if args.mode in ("run", "train"):
        config = build_config(task, args)
        if isinstance(getattr(config, "model", None), str):  # run motif --model PRESET

            config = dataclasses.replace(config, model=resolve_model(task.name, config.model))
        output = args.output or os.path.join("runs", task.name)
        report = run_task(task.name, output, config, args.mode, args.data_dir, verbose,
                          restart=args.restart)
        for line in task.summary(report):
            print(line)
        chief = (" (written by the chief worker)" if getattr(config, "strategy", "") == "multi-worker"
                 else "")
        print(f"outputs in {output}/{chief}")
        return 0
    if args.mode == "tune":
        output = args.output or os.path.join("runs", f"tune_{task.name}")
        summary = tune(task.name, output, build_config(task, args), args.tuner, args.trials,
                       args.max_minutes, args.data_dir, 0 if args.verbose == 0 else 2)
        best = summary["best"]
        if best is None:
            print(f"worker {summary['worker']}: trials done; the chief writes the summary")
            return 0
        print(f"best of {len(summary['trials'])} trials: #{best['trial']} objective "
              f"{best['objective']:.4f} ({summary['objective']}) with {best['values']}")
        print(f"best configuration → {output}/best_params.json (deepbio run {task.name} --config "
              f"{output}/best_params.json)")
        return 0
    if args.mode == "predict":
        output = args.output or os.path.join("runs", task.name)
        path = output if output.lower().endswith(".csv") else os.path.join(output, "predictions.csv")
        check_output_dir(os.path.dirname(path) or ".")
        check_output_file(path)
        with readable_input(args.input) as source, _prediction_strategy(args):
            config = mode_config(task.predict_config_class, args, model=args.model, input=source,
                                 chunk_size=args.chunk_size, shard=args.shard, verbose=args.verbose)
            print(task.predict(config, path))
        return 0
    output = args.output or os.path.join("runs", task.name)
    with readable_input(args.input) as source:
        if task.interpret_config_class is task.config_class:  # interpreting takes the run's flags
            config = dataclasses.replace(build_config(task, args), model=args.model, input=source)
        else:
            config = mode_config(task.interpret_config_class, args, model=args.model, input=source,
                                 verbose=args.verbose)
        with RunFolder(output, task.name, config, "interpret", args.data_dir, verbose) as folder:
            report = task.interpret(config, folder)
            if not folder.report_written:
                report = folder.write_report(report)
    for line in report.get("lines") or task.summary(report):
        print(line)
    print(f"outputs in {output}/")
    return 0


USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError, UnicodeDecodeError, UsageError)


def main(argv=None):
    """Runs the command line; returns the exit status (0, 1 or 2).

    Args:
        argv: list of str (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if not debug:
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
    terminate_like_interrupt()
    try:
        args, extras = build_parser(argv).parse_known_args(argv)
        if extras:
            raise UsageError(f"unrecognized arguments: {' '.join(extras)} (not options of "
                             f"'{PROG} {args.mode} {args.task}'; see '{PROG} {args.mode} "
                             f"{args.task} --help')")
        return _execute(args)
    except SystemExit as exit_:  # --help, or argparse's own exit
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (deepbio presets | head -1): not a failure
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except USER_ERRORS as error:
        if debug:  # the traceback, and the same exit status as without --debug
            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001  (the command line never shows a traceback)
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {type(error).__name__}: {_one_line(error)} "
              f"(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


def legacy_argv(argv, script):
    """``main.py``/``train.py`` arguments → ``deepbio`` arguments.

    ``--task X`` picks the task; ``train.py`` means ``train``; with
    ``main.py``, ``--predict FILE`` means ``predict --input FILE`` and
    ``--saliency FILE`` means ``interpret --input FILE``; otherwise ``run``.

    Raises:
        UsageError: no ``--task``.
    """
    argv = list(argv)
    task, rest, mode, i = None, [], "train" if script == "train.py" else "run", 0
    while i < len(argv):
        arg = argv[i]
        name, _, value = arg.partition("=")
        takes = name in ("--task", "--predict", "--saliency")
        if takes and not value:
            if i + 1 >= len(argv):
                raise UsageError(f"{name} needs a value")
            value, i = argv[i + 1], i + 1
        if name == "--task" and takes:
            task = value
        elif name in ("--predict", "--saliency") and takes and script == "train.py":
            raise UsageError(f"train.py has no {name}; use python main.py {name} FILE, or "
                             f"deepbio {'predict' if name == '--predict' else 'interpret'}")
        elif name == "--predict" and takes:
            mode, rest = "predict", rest + ["--input", value]
        elif name == "--saliency" and takes:
            mode, rest = "interpret", rest + ["--input", value]
        else:
            rest.append(arg)
        i += 1
    if task is None:
        if any(a in ("-h", "--help") for a in rest):
            return ["--help"]
        raise UsageError(f"{script} needs --task, one of {', '.join(discover_tasks())} "
                         f"(e.g. python {script} --task ptm)")
    if task == "serve":
        return ["serve", *rest]
    return [mode, task, *rest]


def script_main(script, argv=None):
    """Entry point of the classic scripts ``main.py`` and ``train.py``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        translated = legacy_argv(argv, script)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return main(translated)
