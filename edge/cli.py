"""The ``digitlite`` command: one entry point, a subcommand per task.

The edge subcommands live here.  The other stages (train, quantize, bench) register
their subcommands through the ``digitlite.commands`` entry-point group, so this
module never imports them: each stage's ``cli`` module is light, and imports its
heavy dependencies (TensorFlow) only when its subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

from edge.errors import DigitliteError

ENTRY_POINT_GROUP = "digitlite.commands"


def _version() -> str:
    try:
        return metadata.version("digitlite")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _register_eval(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a model (.keras or .tflite) on the 10,000 MNIST test images",
        description="Accuracy, loss, confusion matrix and per-class precision/recall/F1 on the MNIST test set.",
    )
    p.add_argument("model", help="a .keras or .tflite model file")
    p.add_argument("--data-dir", help="folder holding the MNIST .gz files (default: $DIGITLITE_DATA, then the cache)")
    p.add_argument("--samples", type=int, default=0, help="evaluate only the first N test images (0: all)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(handler=_run_eval)


def _run_eval(args) -> int:
    import json

    from edge.evaluate import evaluate_model
    from edge.metrics import format_report

    report = evaluate_model(args.model, data_dir=args.data_dir, samples=args.samples)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.model}: {report['samples']} MNIST test images")
        print(format_report(report))
    return 0


EDGE_COMMANDS = (_register_eval,)


def _plugin_commands():
    """(name, register function) for each stage installed beside edge."""
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # broken metadata must not take the edge commands down with it
        return []
    found = []
    for ep in sorted(eps, key=lambda e: e.name):
        try:
            found.append((ep.name, ep.load()))
        except ImportError:
            continue  # a stage whose module is absent from this install (e.g. a slim Pi bundle)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: edge commands plus every installed stage's commands."""
    parser = argparse.ArgumentParser(
        prog="digitlite",
        description="Handwritten digit recognition for the edge: train, quantize, classify, benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"digitlite {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in EDGE_COMMANDS:
        register(subparsers)
    for _, register in _plugin_commands():
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code.

    Bad input ends in one line on stderr and exit code 1 (2 for usage errors,
    130 for Ctrl-C), never a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DigitliteError as e:
        print(f"digitlite: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digitlite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `digitlite classify ... | head`
        return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
