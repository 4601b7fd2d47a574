"""Quantize a trained model, measure what it costs in accuracy, and refuse a model that loses too much.

Every converted model is evaluated on the 10,000 MNIST test images through the edge
runtime (the code path a device uses) and gets a model card JSON beside it.  The int8
model must be full-integer and lose at most ``max_drop`` percentage points against the
float Keras model; otherwise nothing replaces the previous int8 model, the card is kept
as ``<name>.rejected.json``, and QuantizeRejected is raised.

Beside the int8 model goes its batch-1 twin ``<name>_int8_b1.tflite``: the same weights and
calibration with every shape static, which LiteRT.js in a browser (``export --target web``)
needs.  It must answer every test image as the int8 model does, or it is rejected too.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from digitlite.edge.apps.evaluate import load_keras_model
from digitlite.edge.data.metrics import classification_report
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime.card import ModelCard, card_path, tuning_files
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util import atomic
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError
from digitlite.quantize.config import QuantizeConfig
from digitlite.quantize.convert import (
    VARIANTS,
    convert,
    representative_images,
    tf,
    with_fixed_batch,
)


class QuantizeRejected(DigitliteError):
    """The int8 model failed the accuracy gate or is not full-integer."""


def _versions(runtime_name: str) -> dict:
    versions = {"python": platform.python_version(), "tensorflow": tf.__version__, "numpy": np.__version__}
    for dist in ("keras", "ai-edge-litert", "tflite-runtime"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    versions["evaluated_with"] = runtime_name
    return versions


def _training_figures(model_path: Path, sha256: str) -> dict:
    """Parameters/MACs/architecture from the training report, if it describes this very model."""
    for report in (model_path.parent / "report" / "metrics.json",
                   model_path.parent / f"report-{model_path.stem}" / "metrics.json"):
        try:
            metrics = json.loads(report.read_text())
        except (OSError, ValueError):
            continue
        if metrics.get("model_sha256") == sha256:
            return {k: metrics[k] for k in ("arch", "macs_per_image", "epochs_run") if k in metrics}
    return {}


def output_folder(config: QuantizeConfig) -> Path:
    """Where the models and cards go: --out, else the Keras model's folder."""
    return Path(config.out) if config.out else Path(config.model).parent


def quantize(config: QuantizeConfig, log=sys.stderr) -> list[ModelCard]:
    """Convert, evaluate, gate and write each variant; return the model cards (int8 first)."""
    model_path = Path(config.model)
    if config.max_drop != config.max_drop:  # NaN
        raise DigitliteError("--max-drop must be a number")
    unknown = [v for v in config.variants if v not in VARIANTS]
    if unknown:
        raise DigitliteError(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)} or all")
    model = load_keras_model(model_path)
    out = output_folder(config)
    try:
        atomic.check_writable(out)  # fail now, not after minutes of conversion
    except OSError as e:
        raise DigitliteError(f"{out}: output folder cannot be written ({e.strerror or e})") from None
    mnist = load_mnist(config.data_dir or None)
    stem = model_path.stem
    model_sha = sha256_file(model_path)

    tuned = _tuning(model_path, model_sha, config.runtime)
    print(f"evaluating the float model {model_path} on {len(mnist.test_labels):,} test images", file=log, flush=True)
    float_probs = model.predict(mnist.test_images[..., None].astype(np.float32), batch_size=1000, verbose=0)
    float_report = classification_report(mnist.test_labels, float_probs)
    calibration = representative_images(mnist.train_images, mnist.train_labels, config.calibration_samples, config.seed)

    cards = []
    int8_probs = None
    for variant, fixed, file in _jobs(config.variants, stem):
        print(f"converting: {variant}{' (batch 1)' if fixed else ''}", file=log, flush=True)
        data = convert(with_fixed_batch(model) if fixed else model, variant,
                       calibration if variant == "int8" else None, config.io_type)
        classifier = Model(model_content=data, runtime=config.runtime)
        probs = classifier.predict_proba(mnist.test_images)
        report = classification_report(mnist.test_labels, probs)
        drop = (float_report["accuracy"] - report["accuracy"]) * 100
        agreement = float(np.mean(probs.argmax(axis=1) == float_probs.argmax(axis=1)))
        card = ModelCard(
            file=file,
            variant=variant,
            batch=1 if fixed else None,
            source_model=model_path.name,
            source_sha256=model_sha,
            keras_model_name=model.name,
            parameters=int(model.count_params()),
            **_training_figures(model_path, model_sha),
            **classifier.describe(),
            float_accuracy=float_report["accuracy"],
            tflite_accuracy=report["accuracy"],
            drop_points=round(drop, 4),
            max_drop_points=config.max_drop if variant == "int8" else None,
            agreement_with_float=agreement,
            per_class_accuracy=[round(row["recall"], 6) for row in report["per_class"]],
            test_images=report["samples"],
            calibration_samples=config.calibration_samples if variant == "int8" else 0,
            seed=config.seed,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            versions=_versions(classifier.runtime),
        )
        problems = []
        if variant == "int8":
            floats = classifier.float_operators()
            card.full_integer = not floats
            if floats:
                problems.append(f"not full-integer: float tensors in {', '.join(sorted(set(floats)))}")
            if drop > config.max_drop:
                problems.append(f"int8 accuracy {report['accuracy'] * 100:.2f}% against the float model's "
                                f"{float_report['accuracy'] * 100:.2f}%: a drop of {drop:.2f} points, more than "
                                f"--max-drop {config.max_drop:g}")
            if tuned is not None:
                card.tuning, tuning_problems = tuned.gate(classifier, report["accuracy"], config.max_drop)
                problems.extend(tuning_problems)
            if fixed:
                card.same_as = _same_as(f"{stem}_int8.tflite", int8_probs, probs)
                if card.same_as["predictions"] != card.same_as["of"]:
                    problems.append(f"the batch-1 model predicts {card.same_as['of'] - card.same_as['predictions']} "
                                    f"test images differently from {stem}_int8.tflite")
            else:
                int8_probs = probs
        card.status = "rejected" if problems else "passed"
        card.problems = problems or None
        cards.append(card)
        _write(out, card, data, problems)
    return cards


class TuningGate:
    """A model from ``digitlite tune``: its report, its held-out samples, and the shipped model's figures on
    them and on MNIST, which the tuned int8 model must match."""

    def __init__(self, report: dict, images: np.ndarray, labels: np.ndarray, runtime: str):
        self.report, self.images, self.labels = report, images, labels
        shipped = Model(default_model(), runtime=runtime)
        self.shipped_right = int(np.sum(shipped.predict_proba(images).argmax(axis=1) == labels))
        card = ModelCard.of(default_model(), required=False)
        self.shipped_mnist = card.tflite_accuracy if card else None
        self.shipped_name = default_model().name

    def gate(self, classifier: Model, mnist_accuracy: float, max_drop: float) -> tuple[dict, list[str]]:
        """(the card's ``tuning`` record, the problems that refuse it): no worse than the shipped model on the
        held-out samples, and within ``max_drop`` points of it on MNIST."""
        right = int(np.sum(classifier.predict_proba(self.images).argmax(axis=1) == self.labels))
        n, s = len(self.labels), self.report["samples"]
        record = {
            "samples": s["total"], "trained_on": s["trained_on"], "held_out": s["held_out"],
            "samples_sha256": s["sha256"], "base": self.report["base"],
            "held_out_right": {"shipped": self.shipped_right, "tuned": right, "of": n},
            "mnist_accuracy": {"shipped": self.shipped_mnist, "tuned": mnist_accuracy},
            "float": {"before": self.report["before"], "after": self.report["after"]},
        }
        problems = []
        if right < self.shipped_right:
            problems.append(f"the tuned model reads {right} of the {n} held-out samples right, fewer than the shipped "
                            f"{self.shipped_name}'s {self.shipped_right}")
        if self.shipped_mnist is not None and (self.shipped_mnist - mnist_accuracy) * 100 > max_drop:
            problems.append(f"the tuned model's MNIST accuracy {mnist_accuracy * 100:.2f}% is more than --max-drop "
                            f"{max_drop:g} points below the shipped {self.shipped_name}'s {self.shipped_mnist * 100:.2f}%")
        return record, problems


def _tuning(model_path: Path, model_sha: str, runtime: str) -> TuningGate | None:
    """The tuning gate of a model ``digitlite tune`` wrote (its report beside it), else None."""
    report_file, holdout_file = tuning_files(model_path)
    if not report_file.exists():
        return None
    try:
        report = json.loads(report_file.read_text())
        with np.load(holdout_file) as held:
            images, labels = held["images"], held["labels"]
    except (OSError, ValueError, KeyError) as e:
        raise DigitliteError(f"{report_file}: the tuning report or its held-out samples cannot be read "
                             f"({getattr(e, 'strerror', None) or e}); run digitlite tune again") from None
    if not isinstance(report, dict) or report.get("model_sha256") != model_sha:
        raise DigitliteError(f"{report_file} describes another model than {model_path.name} (its sha256 differs): "
                             "run digitlite tune again, or remove the report to quantize it as an untuned model")
    return TuningGate(report, images, labels, runtime)


def _jobs(variants, stem: str) -> list[tuple[str, bool, str]]:
    """(variant, fixed batch, file) in the order they are made: int8 first, then its batch-1 twin
    (what LiteRT.js in a browser and TensorFlow Lite Micro run), then the others."""
    jobs = []
    for variant in sorted(variants, key=lambda v: v != "int8"):
        jobs.append((variant, False, f"{stem}_{variant}.tflite"))
        if variant == "int8":
            jobs.append((variant, True, f"{stem}_int8_b1.tflite"))
    return jobs


def _same_as(file: str, reference: np.ndarray, probs: np.ndarray) -> dict:
    """How many test images a model answers as ``file`` did: same prediction, same output bytes."""
    return {"file": file, "predictions": int(np.sum(reference.argmax(axis=1) == probs.argmax(axis=1))),
            "outputs": int(np.sum(np.all(reference == probs, axis=1))), "of": len(probs)}


def _write(out: Path, card: ModelCard, data: bytes, problems: list[str]) -> None:
    """Write the model and its card together, or, for a rejected one, only its report; then raise."""
    stem = Path(card.file).stem
    try:
        if problems:
            atomic.write_all({out / f"{stem}.rejected.json": card.to_json()})
        else:  # the model and its card are replaced together or not at all
            atomic.write_all({out / card.file: data, card_path(out / card.file): card.to_json()})
    except OSError as e:
        raise DigitliteError(f"{out / card.file}: cannot write ({e.strerror or e}); the previous model and "
                             "card are left as they were") from None
    if problems:
        kept = out / card.file
        raise QuantizeRejected(
            f"{'; '.join(problems)}; {kept if kept.exists() else 'no previous ' + card.file} left as it was, "
            f"report in {out / (stem + '.rejected.json')}"
        )
    stale = out / f"{stem}.rejected.json"
    if stale.exists():
        stale.unlink()


def format_table(cards: list[ModelCard], out: Path | None = None) -> str:
    """Variant | size | accuracy | drop | status | file, one row per converted model, then what
    the drop means and where the models went."""
    rows = [f"{'variant':<8}  {'size':>9}  {'accuracy':>8}  {'drop':>10}  {'status':<8}  written to"]
    for c in cards:
        where = str(out / c.file) if out is not None and c.status == "passed" else "-"
        name = f"{c.variant} b{c.batch}" if c.batch else c.variant
        rows.append(f"{name:<8}  {c.size_bytes / 1024:7.1f}KB  {c.tflite_accuracy * 100:7.2f}%  "
                    f"{c.drop_points:+6.2f} pts  {c.status:<8}  {where}")
    if cards:
        rows.append(f"float Keras model: {cards[0].float_accuracy * 100:.2f}% on {cards[0].test_images:,} test "
                    "images; drop: its accuracy minus the converted model's, in percentage points")
    return "\n".join(rows)
