"""The quantization table, from the model cards `digitlite quantize` writes beside each .tflite.

    digitlite quantize models/digits.keras --variant all
    digitlite quantize models/baseline.keras --variant all
    python -m digitlite.benchmarks.quantization models/*.tflite --update-readme
"""

from __future__ import annotations

import argparse
import sys

from digitlite.benchmarks.common import UpdateReadme, run_main
from digitlite.benchmarks.publish import publish
from digitlite.edge.runtime.card import CardError, ModelCard

MARKERS = ("<!-- quantize-results:begin -->", "<!-- quantize-results:end -->")


def load_cards(models: list[str]) -> list[dict]:
    """The card of each model (``X.tflite`` -> ``X.json``), as JSON objects; SystemExit naming a bad one."""
    try:
        return [ModelCard.of(m).to_dict() for m in models]
    except CardError as e:
        raise SystemExit(f"benchmarks.quantization: {e}") from None


def markdown(cards: list[dict]) -> str:
    """Model | variant | size | float | TFLite | drop | full-integer | I/O | status."""
    rows = ["| model | variant | size | float Keras accuracy | TFLite accuracy | drop (points) | full-integer | input / output | status |",
            "|---|---|---|---|---|---|---|---|---|"]
    for c in cards:
        full = {True: "yes", False: "**no**"}.get(c.get("full_integer"), "–")
        rows.append(
            f"| `{c['file']}` | {c['variant']} | {c['size_bytes'] / 1024:.1f} KB | {c['float_accuracy'] * 100:.2f}% | "
            f"{c['tflite_accuracy'] * 100:.2f}% | {c['drop_points']:+.2f} | {full} | "
            f"{c['input']['dtype']} / {c['output']['dtype']} | {c['status']} |")
    rows.append("")
    rows.append("Accuracy on the 10,000 MNIST test images, every TFLite model evaluated through the edge runtime; "
                "the int8 models are calibrated on 500 training images stratified over the digits. "
                "Each row is read from the model card beside the `.tflite` file.")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Print (and optionally paste into the README) the table for the given models."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.quantization", description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help=".tflite files with their .json cards beside them")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    cards = load_cards(args.models)
    publish("quantization", cards, markdown(cards), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
