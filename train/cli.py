"""``digitlite train``: its options are TrainConfig's fields, so defaults live in one place.

This module stays light (no TensorFlow import): the ``digitlite`` command loads it to
list the options, and the training code is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from digitlite.edge.util.errors import DigitliteError
from digitlite.train.config import TrainConfig

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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    p.set_defaults(handler=run)


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
