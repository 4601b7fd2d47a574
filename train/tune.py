"""Fine-tune the digit classifier on a person's own samples, without forgetting MNIST.

Starts from the weights of the shipped int8 model (read back as floats, ``from_int8``) or a given .keras model,
holds out part of each class's samples, and trains on the rest mixed with MNIST replay and
generated non-digits, at a low learning rate with the BatchNorm statistics frozen (a few hundred
samples would drag them off MNIST's).  The temperature is fitted again on MNIST's validation
split, as ``digitlite train`` does.  Writes ``OUT/NAME.keras``, its report ``OUT/NAME.tune.json``
and the held-out samples ``OUT/NAME.holdout.npz``, which ``digitlite quantize`` gates on: the int8
model must read them no worse than the model it started from.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import signal
import sys
import time
from pathlib import Path

from digitlite.edge.util.quiet import import_tensorflow

tf = import_tensorflow()

import keras  # noqa: E402  (after TensorFlow's quiet import)
import numpy as np  # noqa: E402

from digitlite.edge.data.mnist import load_mnist  # noqa: E402
from digitlite.edge.runtime.card import tuning_files  # noqa: E402
from digitlite.edge.runtime.shipped import default_model  # noqa: E402
from digitlite.edge.util import atomic  # noqa: E402
from digitlite.edge.util.digest import sha256_file  # noqa: E402
from digitlite.edge.util.errors import DigitliteError  # noqa: E402
from digitlite.edge.util.signals import signals_to  # noqa: E402
from digitlite.train import synthetic  # noqa: E402
from digitlite.train.calibrate import fit_temperature, fold_temperature  # noqa: E402
from digitlite.train.config import TuneConfig  # noqa: E402
from digitlite.train.data import split_validation, training_dataset  # noqa: E402
from digitlite.train.from_int8 import float_model  # noqa: E402
from digitlite.train.samples import (  # noqa: E402
    NOT_A_DIGIT_CLASS,
    Samples,
    class_counts,
    read_samples,
    split_holdout,
)
from digitlite.train.train import EpochPrinter, StopRequest, set_seeds  # noqa: E402

REDRAWN = 0.5  # the share of the MNIST replay re-drawn as pictures, as `digitlite train --redrawn` does
VALIDATION = 5000  # the MNIST training images `digitlite train` held out (its default val_size and seed)
REPORT_VERSION = 1


def start_model(model: str = "") -> tuple[keras.Model, str]:
    """The model to tune and what it is: a .keras file, or the shipped digits model's own weights."""
    if not model:
        return float_model(default_model()), f"shipped digits ({default_model().name})"
    path = Path(model)
    if path.suffix != ".keras":
        raise DigitliteError(f"{model}: tuning needs float weights, a .keras model (digitlite train writes one); "
                             "a .tflite model cannot be trained")
    try:
        net = keras.models.load_model(path, compile=False)
    except FileNotFoundError:
        raise DigitliteError(f"{model}: no such file") from None
    except Exception as e:  # noqa: BLE001 - Keras raises many kinds for a file that is not a model
        raise DigitliteError(f"{model}: not a Keras model ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    shape, out = tuple(net.input_shape), net.output_shape
    if shape[1:] != (28, 28, 1) or out[-1] not in (10, 11):
        raise DigitliteError(f"{model}: not a digitlite digit classifier (input {shape[1:]}, {out[-1]} outputs; "
                             "expected 28x28x1 in and 10 or 11 out)")
    return net, path.name


def tune(config: TuneConfig, samples: Samples | None = None, log=sys.stderr) -> dict:
    """Fine-tune as ``config`` says; return the report written beside the model (see the module)."""
    try:
        config.check()
    except ValueError as e:
        raise DigitliteError(str(e)) from None
    samples = samples or read_samples(config.samples)
    out = Path(config.out)
    try:
        atomic.check_writable(out)  # fail now, not after the training
    except OSError as e:
        raise DigitliteError(f"{out}: output folder cannot be written ({e.strerror or e})") from None
    # seeded before the model is built (its dropout draws from the seed then), and deterministic ops:
    # the same samples give the same model, however busy the machine
    set_seeds(config.seed)
    model, base = start_model(config.model)
    classes = int(model.output_shape[-1])
    if classes == 10 and np.any(samples.labels == NOT_A_DIGIT_CLASS):
        raise DigitliteError(f"{base} has no 'not a digit' class: move the not_a_digit/ samples out, or start "
                             "from an eleven-class model")
    started = time.perf_counter()
    train_idx, held_idx = split_holdout(samples, config.holdout, config.seed)
    x_own, y_own = samples.images[train_idx], samples.labels[train_idx]
    x_held, y_held = samples.images[held_idx], samples.labels[held_idx]
    mnist = load_mnist(config.data_dir or None)
    (x_pool, y_pool), (x_val, y_val) = split_validation(mnist.train_images, mnist.train_labels, VALIDATION, 1)
    x_mix, y_mix, mix = _mix(config, classes, x_pool, y_pool, log)
    others = len(x_mix)
    repeats = max(1, math.ceil(config.sample_share * others / ((1 - config.sample_share) * len(x_own))))
    x_train = np.concatenate([x_mix, np.repeat(x_own, repeats, axis=0)])
    y_train = np.concatenate([y_mix, np.repeat(y_own, repeats)])

    x_test, y_test = mnist.test_images, mnist.test_labels.astype(np.int64)
    before = _figures(model, x_held, y_held, x_test, y_test)
    own = ", ".join(f"{k}: {v}" for k, v in class_counts(y_own).items())
    print(f"tuning {base} on {len(x_own)} samples ({own}), {len(x_held)} held out, "
          f"with {others:,} MNIST and non-digit images; before: held-out {before['holdout_accuracy'] * 100:.1f}%, "
          f"MNIST {before['mnist_accuracy'] * 100:.2f}%", file=log, flush=True)

    for layer in model.layers:  # BatchNorm in inference mode: its statistics stay MNIST's
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    steps = math.ceil(len(x_train) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps * config.epochs,
                                                      alpha=0.05)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = StopRequest()
    with signals_to(stop.request):
        model.fit(training_dataset(x_train, y_train, config.batch_size, config.seed, True), steps_per_epoch=steps,
                  epochs=config.epochs, callbacks=[stop, EpochPrinter(config.epochs, log)], verbose=0, shuffle=False)
    if stop.requested:
        print("interrupted: nothing written; any previous tuned model is left as it was", file=log, flush=True)
        raise KeyboardInterrupt

    val_x, val_y = x_val, y_val.astype(np.int64)
    if classes == 11:
        neg, _ = synthetic.generate(500, config.seed + 10_077, x_val, y_val)
        val_x, val_y = np.concatenate([val_x, neg]), np.concatenate([val_y, np.full(len(neg), NOT_A_DIGIT_CLASS)])
    temperature = fit_temperature(model.predict(val_x[..., None].astype(np.float32), batch_size=1000, verbose=0), val_y)
    fold_temperature(model, temperature)
    after = _figures(model, x_held, y_held, x_test, y_test)
    wall = time.perf_counter() - started
    print(f"after: held-out {after['holdout_accuracy'] * 100:.1f}%, MNIST {after['mnist_accuracy'] * 100:.2f}% "
          f"({wall:.0f} s; temperature {temperature:.3f})", file=log, flush=True)

    model_path = out / f"{config.name}.keras"
    report = {
        "version": REPORT_VERSION,
        "model": model_path.name,
        "base": base,
        "samples": {"total": len(samples.labels), "trained_on": len(y_own), "held_out": len(y_held),
                    "per_class": samples.counts(), "held_out_per_class": class_counts(y_held),
                    "sha256": samples.sha256(), "skipped": len(samples.skipped), "unsorted": samples.unsorted},
        "held_out_files": [samples.files[k] for k in held_idx],
        "before": before,
        "after": after,
        "mix": {**mix, "sample_repeats": repeats},
        "temperature": round(temperature, 6),
        "wall_time_seconds": round(wall, 1),
        "config": dataclasses.asdict(config),
    }
    holdout = io.BytesIO()
    np.savez_compressed(holdout, images=x_held, labels=y_held)
    try:
        with signals_to(signal.SIG_IGN):  # the model, its report and its held-out samples are written together
            atomic.write_with(model_path, lambda tmp: model.save(tmp), suffix=".keras")
            report["model_sha256"] = sha256_file(model_path)
            report_file, holdout_file = tuning_files(model_path)
            atomic.write_all({report_file: (json.dumps(report, indent=2) + "\n").encode(),
                              holdout_file: holdout.getvalue()})
    except OSError as e:
        raise DigitliteError(f"{out}: cannot write the tuned model ({e.strerror or e})") from None
    return report


def _mix(config: TuneConfig, classes: int, x_pool: np.ndarray, y_pool: np.ndarray, log):
    """What the samples are mixed with, so that what the model read before is not forgotten: as ``digitlite
    train`` had them, MNIST training digits (half re-drawn as pictures), digits in the handwriting fonts and,
    for an eleven-class model, generated non-digits.  (images, labels, how many of each)."""
    rng = np.random.default_rng(config.seed)
    pick = rng.choice(len(x_pool), min(config.replay, len(x_pool)), replace=False)
    replay, labels = x_pool[pick].copy(), [y_pool[pick].astype(np.int64)]
    redraw = np.flatnonzero(rng.random(len(pick)) < REDRAWN)
    replay[redraw] = synthetic.redrawn(replay[redraw], config.seed + 5)
    images = [replay]
    mix = {"mnist_replay": len(pick), "redrawn": len(redraw), "font_digits": 0, "negatives": 0}
    negatives = config.negatives if classes == 11 else 0
    fonts = _fonts(config, log) if negatives or config.font_digits else []
    if config.font_digits and fonts:
        extra, extra_labels = synthetic.font_digits(config.font_digits, config.seed + 6, fonts)
        images.append(extra)
        labels.append(extra_labels.astype(np.int64))
        mix["font_digits"] = len(extra)
    if negatives:
        extra, _ = synthetic.generate(negatives, config.seed + 77, x_pool, y_pool, fonts=fonts)
        images.append(extra)
        labels.append(np.full(len(extra), NOT_A_DIGIT_CLASS, np.int64))
        mix["negatives"] = len(extra)
    print(f"mixed in {mix['mnist_replay']:,} MNIST digits ({mix['redrawn']:,} re-drawn as pictures), "
          f"{mix['font_digits']:,} in handwriting fonts and {mix['negatives']:,} non-digits", file=log, flush=True)
    return np.concatenate(images), np.concatenate(labels), mix


def _fonts(config: TuneConfig, log) -> list[bytes]:
    """The handwriting fonts the training wrote letters in (from --fonts-dir, the cache or the npm registry);
    none, with a note, where they cannot be had: the other non-digits are still made."""
    try:
        return synthetic.font_files(config.fonts_dir or None)
    except DigitliteError as e:
        print(f"note: no handwriting fonts ({e}); the non-digits are made without font letters", file=log, flush=True)
        return []


def _figures(model, x_held, y_held, x_test, y_test) -> dict:
    """Accuracy on the held-out samples and on the MNIST test set (the float model's)."""
    held = model.predict(x_held[..., None].astype(np.float32), batch_size=1000, verbose=0).argmax(axis=1)
    test = model.predict(x_test[..., None].astype(np.float32), batch_size=1000, verbose=0).argmax(axis=1)
    return {"holdout_accuracy": round(float(np.mean(held == y_held)), 6),
            "holdout_right": int(np.sum(held == y_held)),
            "mnist_accuracy": round(float(np.mean(test == y_test)), 6)}
