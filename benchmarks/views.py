"""The seven views (edge/runtime/views.py) on the training's own validation set, and their temperature.

    python -m digitlite.benchmarks.views [--model M.tflite] [--update-readme]      (needs [train])

The validation set is rebuilt exactly as `digitlite train` builds it for the shipped model (its
seed, 5,000 MNIST training digits held out, half of them re-drawn, and 2,400 generated
non-digits): the shipped model never trained on it, and the test sets (MNIST test, the real
photos, benchmarks.nondigits) play no part here.  On it, each input is read in one view and in
seven, and the temperature of the pooled answer is fitted as the training fits the model's own
(train/calibrate.py: the NLL's minimum); views.TEMPERATURE must be that fit, to two decimals.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.edge.data.metrics import calibration
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime import views
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.reading import NOT_A_DIGIT
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.errors import DigitliteError

MARKERS = ("<!-- views-results:begin -->", "<!-- views-results:end -->")


def validation_set(config=None) -> tuple[np.ndarray, np.ndarray]:
    """The validation images and labels (10: "not a digit") that `digitlite train` holds out with
    ``config`` (a ``TrainConfig``; by default the default training's, the shipped model's)."""
    # the training's own code (TensorFlow, the [train] extra), so that the set is the one it held out
    from digitlite.train import synthetic
    from digitlite.train.config import TrainConfig
    from digitlite.train.data import split_validation
    from digitlite.train.train import held_out

    config = config or TrainConfig()
    mnist = load_mnist(config.data_dir or None)
    _, (x_val, y_val) = split_validation(mnist.train_images, mnist.train_labels, config.val_size, config.seed)
    fonts = synthetic.font_files(config.fonts_dir or None) if config.negatives else []
    return held_out(x_val, y_val, config, fonts)


def _figures(probs: np.ndarray, labels: np.ndarray) -> dict:
    answer = probs.argmax(axis=1)
    digit = labels != NOT_A_DIGIT
    return {"digits_right": int((answer[digit] == labels[digit]).sum()), "digits": int(digit.sum()),
            "not_a_digit_refused": int((answer[~digit] == NOT_A_DIGIT).sum()), "not_a_digit": int((~digit).sum()),
            "calibration": calibration(answer == labels, probs.max(axis=1))}


def measure(model: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """One view against seven on ``images``, and the pooled answer's fitted temperature."""
    # the training's own fit (TensorFlow: the [train] extra)
    from digitlite.train.calibrate import fit_temperature

    reader = Model(model)
    if reader.classes <= NOT_A_DIGIT:
        raise DigitliteError(f"{model}: a ten-class model; the validation set holds non-digits (class 10): "
                             "give an eleven-class model")
    seen = views.Viewed(reader).seen(images)
    untempered = views.pool(seen, temperature=1.0)
    fitted = fit_temperature(untempered, labels)
    return {"model": model.name, "images": int(len(labels)), "fitted_temperature": round(fitted, 4),
            "temperature": views.TEMPERATURE, "one_view": _figures(seen[:, 0], labels),
            "seven_views_untempered": _figures(untempered, labels), "seven_views": _figures(views.pool(seen), labels),
            "machine": machine()}


def markdown(r: dict) -> str:
    """The table for these results."""
    def row(name, f):
        return (f"| {name} | {f['digits_right'] / f['digits']:.2%} ({f['digits_right']:,}/{f['digits']:,}) | "
                f"{f['not_a_digit_refused'] / f['not_a_digit']:.2%} ({f['not_a_digit_refused']:,}/{f['not_a_digit']:,}) | "
                f"{f['calibration']['ece']:.2%} |")
    return "\n".join([
        "| the training's validation set, read in | digits read right | non-digits answered \"not a digit\" | ECE |",
        "|---|---|---|---|",
        row("one view (the model's own answer)", r["one_view"]),
        row("seven views, pooled, temperature 1", r["seven_views_untempered"]),
        row(f"seven views, pooled, temperature {r['temperature']} (as shipped)", r["seven_views"]),
        "",
        f"{r['images']:,} images: the validation set `digitlite train` holds out for the shipped model (5,000 MNIST "
        f"training digits, half re-drawn, and 2,400 generated non-digits), never trained on. The temperature fitted "
        f"to the pooled answer here (train/calibrate.py's NLL minimum) is {r['fitted_temperature']}; "
        f"`edge/runtime/views.py` uses {r['temperature']}. ECE: the expected calibration error over 15 equal bins. "
        f"Model `{r['model']}`, on {r['machine']['cpu']}. By `python -m digitlite.benchmarks.views`.",
    ])


def main(argv=None) -> int:
    """Rebuild the validation set, read it in one view and in seven, print the figures."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.views", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="the .tflite model (default: the shipped int8 model)")
    p.add_argument("--data-dir", default="")
    p.add_argument("--results", help="write the results here (default: benchmarks/results, with --update-readme)")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    try:
        import digitlite.train.calibrate  # noqa: F401  (TensorFlow: the [train] extra)
    except ImportError as e:
        raise DigitliteError(f"needs the [train] extra (pip install -e '.[train]'): {e}") from None
    # the training's settings: the validation set is its
    from digitlite.train.config import TrainConfig

    model = Path(args.model) if args.model else default_model()
    images, labels = validation_set(TrainConfig(data_dir=args.data_dir))
    result = measure(model, images, labels)
    if abs(result["fitted_temperature"] - views.TEMPERATURE) >= 0.005:
        print(f"views.TEMPERATURE is {views.TEMPERATURE}, but {result['fitted_temperature']} fits this model",
              file=sys.stderr)
    publish("views", result, markdown(result), MARKERS, args.update_readme, Path(args.results) if args.results else None)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
