"""``deepbio presets``: list the shipped trained models, show a card, rebuild one."""

import argparse
import os
from deepbio import presets
from deepbio.presets.build import rebuild
from deepbio.core.run_folder import check_output_dir


PRESETS_HELP = "the trained models that ship with deepbio: list, show a card, rebuild one"


def add_parser(modes, formatter):
    """Adds ``deepbio presets [list|show NAME|build NAME]`` to the command's sub-parsers."""
    sub = modes.add_parser("presets", help=PRESETS_HELP, description=PRESETS_HELP,
                           formatter_class=formatter, epilog=(
                               "examples: deepbio presets · deepbio presets show ptm-trees · "
                               "deepbio predict ptm --input p53.fasta (the ptm preset)"))
    actions = sub.add_subparsers(dest="task", metavar="{list,show,build}")
    actions.add_parser("list", help="name, task, size, headline figure (the default)")
    show = actions.add_parser("show", help="a preset's model card")
    show.add_argument("name", metavar="NAME")
    build = actions.add_parser("build", help="retrain a preset with its card's command and compare "
                                             "its predictions on the pinned input")
    build.add_argument("name", metavar="NAME")
    build.add_argument("--output", default=None, metavar="DIR",
                       help="run folder of the rebuild (default runs/presets/NAME)")
    build.add_argument("--data-dir", default=None, metavar="DIR",
                       help="local data mirror (default $DEEPBIO_DATA)")
    for parser in (sub, show, build):
        parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help=argparse.SUPPRESS)


def run(args, quiet_tensorflow, main):
    """Runs ``deepbio presets``; returns the exit status (errors raise, see `deepbio.cli`)."""
    if args.task in (None, "list"):
        rows = [(p.name, p.task, f"{p.size_bytes / 1e6:.1f} MB", p.headline)
                for p in presets.list_presets()]
        widths = [max(len(r[i]) for r in rows + [("name", "task", "size", "")]) for i in range(3)]
        print(f"{'name':<{widths[0]}}  {'task':<{widths[1]}}  {'size':>{widths[2]}}  headline")
        for row in rows:
            print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
        return 0
    preset = presets.get(args.name)
    if args.task == "show":
        print(preset.card())
        return 0

    output = args.output or os.path.join("runs", "presets", preset.name)

    check_output_dir(output)
    quiet_tensorflow(show_logs=args.debug)
    result = rebuild(preset, output, main, data_dir=args.data_dir, verbose=args.verbose)
    print(f"rebuilt {preset.name} in {output}: pinned predictions max |difference| "
          f"{result['max_abs_difference']:.3g} ({'identical' if result['identical'] else 'differ'}; "
          f"{result['rows']} rows)")
    return 0
