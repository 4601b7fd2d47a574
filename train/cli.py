"""``digitlite train`` and ``digitlite tune``: their options are TrainConfig's and TuneConfig's fields, so defaults live in one place.

This module stays light (no TensorFlow import): the ``digitlite`` command loads it to
list the options, and the training code is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from digitlite.edge.settings import DefaultsFormatter
from digitlite.edge.util.errors import DigitliteError
from digitlite.train.config import TrainConfig, TuneConfig

SUMMARY_KEYS = ("arch", "test_accuracy", "test_loss", "parameters", "macs_per_image", "epochs_run",
                "best_epoch", "interrupted", "wall_time_seconds")


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train", help="train the CNN on MNIST and write the model and its report",
        description="Train a digit classifier on MNIST. Writes OUT/digits.keras and OUT/report/ with "
                    "metrics.json, curves, confusion matrix, samples, misclassified digits and feature maps "
                    "(another architecture: OUT/<arch>.keras and OUT/report-<arch>/). "
                    "Ctrl-C stops and keeps the best model so far.",
        formatter_class=DefaultsFormatter,
    )
    _add_fields(p, TrainConfig)
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    p.set_defaults(handler=run)


def register_tune(subparsers) -> None:
    """Add the ``tune`` subcommand."""
    t = subparsers.add_parser(
        "tune", help="fine-tune the model on your own digits (a folder of samples, as --collect writes it)",
        description="Fine-tune the shipped model (or --model FILE.keras) on DIR/0/ ... DIR/9/ (and DIR/not_a_digit/), "
                    "mixed with MNIST so that MNIST is not forgotten. Part of each digit's samples is held out; the "
                    "report says how each does before and after. Writes OUT/NAME.keras with NAME.tune.json and "
                    "NAME.holdout.npz; then digitlite quantize OUT/NAME.keras gates and converts it. Ctrl-C stops and "
                    "writes nothing.",
        formatter_class=DefaultsFormatter,
    )
    t.add_argument("samples", metavar="DIR", help=TuneConfig.__dataclass_fields__["samples"].metadata["help"])
    _add_fields(t, TuneConfig, skip=("samples",))
    t.add_argument("--json", action="store_true", help="print the tuning report as JSON")
    t.set_defaults(handler=run_tune)


def _add_fields(p, config_class, skip=()) -> None:
    """A flag per field of a config dataclass, with its default and help."""
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])


def run_tune(args) -> int:
    """Tune on the samples the command line names and print the before/after figures."""
    config = TuneConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TuneConfig)})
    try:
        config.check()
    except ValueError as e:
        raise DigitliteError(str(e)) from None
    # lazy: numpy and Pillow, loaded only when the command runs (the command line starts without them)
    from digitlite.train.samples import read_samples

    samples = read_samples(config.samples)  # before the slow TensorFlow import: a bad folder fails at once
    for problem in samples.skipped:
        print(f"digitlite: skipped {problem}", file=sys.stderr)
    if samples.skipped:
        print(f"{len(samples.skipped)} file{'s' * (len(samples.skipped) > 1)} skipped", file=sys.stderr)
    try:
        # lazy: TensorFlow, loaded only when the command runs
        from digitlite.train.tune import tune
    except ImportError as e:
        raise DigitliteError(f"tuning needs TensorFlow ({e}); install it with: pip install 'digitlite[train]'") from None
    report = tune(config, samples)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    b, a, s = report["before"], report["after"], report["samples"]
    print(f"samples      {s['trained_on']} trained on, {s['held_out']} held out ({s['sha256'][:12]})")
    print(f"held out     {b['holdout_accuracy'] * 100:.1f}% -> {a['holdout_accuracy'] * 100:.1f}%")
    print(f"MNIST test   {b['mnist_accuracy'] * 100:.2f}% -> {a['mnist_accuracy'] * 100:.2f}% (float)")
    print(f"model        {Path(config.out) / report['model']}  ({report['wall_time_seconds']:.0f} s)")
    print(f"next         digitlite quantize {Path(config.out) / report['model']}")
    return 0


def run(args) -> int:
    """Train with the options given on the command line and print a summary."""
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    try:
        config.check()  # before the slow TensorFlow import
    except ValueError as e:
        raise DigitliteError(str(e)) from None
    try:
        # lazy: TensorFlow, loaded only when the command runs
        from digitlite.train.train import train
    except ImportError as e:
        raise DigitliteError(f"training needs TensorFlow ({e}); install it with: pip install 'digitlite[train]'") from None
    metrics = train(config)
    summary = {k: metrics[k] for k in SUMMARY_KEYS}
    summary["model"] = str(args.out) + "/" + metrics["model_file"]
    summary["report"] = str(args.out) + "/" + metrics["report_dir"]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        width = max(map(len, summary))
        for key, value in summary.items():
            shown = f"{value * 100:.2f}%" if key == "test_accuracy" else value
            print(f"{key:<{width}}  {shown}")
    return 130 if metrics["interrupted"] else 0
