"""Command-line flags from a config's `option` fields, and configs from parsed flags.

The one place where a task's declared fields become argparse flags (help
text, bounds shown, profile defaults) and flags become a config back:
`add_config_flags` and `build_config` for the run config,
`mode_config` for the ``predict`` / ``interpret`` / ``convert`` configs.
"""

import argparse
import dataclasses
import math

from deepbio.core.task import config_fields, config_from_dict, read_params, tuple_item_type


def _one_line(text):
    return " ".join(str(text).split())


def _display(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _parse_tuple(item_type, flag):
    def parse(text):
        try:
            return tuple(item_type(v.strip()) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--{flag} takes comma-separated {item_type.__name__} values, got {text!r}") from None
    return parse


def _checked(parse, flag):
    def checked(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"--{flag} {text!r}: {_one_line(error)}") from None
    checked.__name__ = flag
    return checked


def _parse_scalar(kind, flag):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (kind is float and not math.isfinite(value)):
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"--{flag} takes {what}, got {text!r}")
        return value
    return parse


def add_config_flags(parser, task, skip=(), config_class=None):
    """One flag per field of ``config_class`` (default: the run config; but ``skip``).

    Defaults are shown from each profile's config (run configs) or the class's.
    """
    config_class = config_class or task.config_class
    if task is not None and config_class is task.config_class:
        bases = {name: task.base_config(name) for name in (task.profiles or {None: None})}
    else:
        bases = {None: config_class()}
    default = next(iter(bases.values()))
    groups = {}
    for field, meta, annotation in config_fields(config_class):
        if field.name in skip:
            continue
        flag = meta.get("flag") or field.name.replace("_", "-")
        shown = f"default {_display(getattr(default, field.name))}"
        for name, config in list(bases.items())[1:]:
            if getattr(config, field.name) != getattr(default, field.name):
                shown += f"; profile {name}: {_display(getattr(config, field.name))}"
        owner = next(k for k in reversed(config_class.__mro__)
                     if field.name in getattr(k, "__dataclass_fields__", {}))
        title = ("shared training options" if owner.__module__ == "deepbio.core.task" else
                 f"{task.name} options" if task is not None else "options")
        group = groups.setdefault(title, parser.add_argument_group(title))
        help_text = f"{meta.get('help') or ''} ({shown})"
        kwargs = {"dest": field.name, "default": argparse.SUPPRESS, "help": help_text}
        base_type = annotation
        if annotation is bool:
            group.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if meta.get("parse"):
            kwargs["type"] = _checked(meta["parse"], flag)
        elif base_type is tuple or getattr(base_type, "__origin__", None) is tuple:
            kwargs["type"] = _parse_tuple(tuple_item_type(base_type), flag)
            kwargs["metavar"] = meta.get("metavar") or "A,B,..."
        elif base_type in (int, float):
            kwargs["type"] = _parse_scalar(base_type, flag)
            kwargs["metavar"] = "N" if base_type is int else "X"
        if meta.get("choices") is not None and "metavar" not in kwargs and base_type is not tuple:
            kwargs["choices"] = meta["choices"]
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        group.add_argument(f"--{flag}", **kwargs)


def build_config(task, args):
    """The run's config: profile → ``--config`` file → flags (each overriding the last).

    Raises:
        ValueError: a bad value (naming the flag) or a bad parameters file.
    """
    config = task.base_config(getattr(args, "profile", None))
    if getattr(args, "config", None):
        values = read_params(args.config, task.name, task.config_class)
        config = config_from_dict(task.config_class, {**dataclasses.asdict(config), **values},
                                  source=f"--config {args.config}")
    changes = {field.name: getattr(args, field.name) for field, _, _ in config_fields(task.config_class)
               if hasattr(args, field.name)}
    config = dataclasses.replace(config, **changes)
    return task.finish_config(config, set(changes))


def mode_config(config_class, args, **values):
    """A ``predict`` / ``interpret`` config: ``values`` and the flags of ``config_class``'s options."""
    flags = {field.name: getattr(args, field.name) for field, _, _ in config_fields(config_class)
             if hasattr(args, field.name) and field.name not in values}
    return config_class(**values, **flags)
