"""Train a digit classifier on MNIST and write the model and its report.

Defaults live in TrainConfig, in one screen.  Ctrl-C (or SIGTERM) stops training
cleanly: the best weights so far are evaluated and saved like a finished run.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import time
from pathlib import Path

from digitlite.edge.util.quiet import import_tensorflow

tf = import_tensorflow()

import keras  # noqa: E402  (after TensorFlow's quiet import)
import numpy as np  # noqa: E402

from digitlite.edge.data.metrics import calibration  # noqa: E402
from digitlite.edge.data.mnist import load_mnist  # noqa: E402
from digitlite.edge.util import atomic  # noqa: E402
from digitlite.edge.util.errors import DigitliteError  # noqa: E402
from digitlite.edge.util.signals import signals_to  # noqa: E402
from digitlite.train import synthetic  # noqa: E402
from digitlite.train.calibrate import fit_temperature, fold_temperature  # noqa: E402
from digitlite.train.config import TrainConfig  # noqa: E402
from digitlite.train.data import eval_dataset, split_validation, training_dataset  # noqa: E402
from digitlite.train.model import ARCHITECTURES, build_model, count_macs  # noqa: E402
from digitlite.train.report import write_report  # noqa: E402


class EpochPrinter(keras.callbacks.Callback):
    """One line per epoch on ``stream``: training and validation metrics, learning rate, time."""

    def __init__(self, epochs: int, stream=sys.stderr):
        super().__init__()
        self.epochs, self.stream = epochs, stream

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        print(
            f"epoch {epoch + 1:>3}/{self.epochs}  loss {logs.get('loss', math.nan):.4f}  "
            f"acc {logs.get('accuracy', math.nan) * 100:6.2f}%  "
            f"val_loss {logs.get('val_loss', math.nan):.4f}  "
            f"val_acc {logs.get('val_accuracy', math.nan) * 100:6.2f}%  "
            f"lr {lr:.2e}  {time.perf_counter() - self.start:5.1f}s",
            file=self.stream, flush=True,
        )


class StopRequest(keras.callbacks.Callback):
    """Ctrl-C and SIGTERM ask training to stop at the end of the current step.

    Raising KeyboardInterrupt from a signal handler can land inside TensorFlow's C++ code
    and leave it broken; a flag checked between steps cannot.  A second Ctrl-C stops at once.
    """

    def __init__(self):
        super().__init__()
        self.requested = False

    def request(self, signum=None, frame=None):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_train_batch_end(self, batch, logs=None):
        if self.requested:
            self.model.stop_training = True


class LastWeights(keras.callbacks.Callback):
    """The weights at the end of the last epoch that ran to its end."""

    def __init__(self, stop: StopRequest):
        super().__init__()
        self.stop, self.weights, self.epoch = stop, None, -1

    def on_epoch_end(self, epoch, logs=None):
        if not self.stop.requested:  # an epoch cut short by a stop request does not count
            self.weights, self.epoch = self.model.get_weights(), epoch


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make every op deterministic: a kernel that would add
    in an order set by thread scheduling (so by the machine's load) uses one that does not, or
    raises; tf.data keeps its order however its threads are scheduled."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(config: TrainConfig, log=sys.stderr) -> dict:
    """Run one training as ``config`` says; return the metrics written to the report.

    Writes ``<out>/digits.keras`` and ``<out>/report/``, or for a non-default
    architecture ``<out>/<arch>.keras`` and ``<out>/report-<arch>/``, so both can
    share a folder.  Every file is written atomically.
    """
    try:
        config.check(ARCHITECTURES)
    except ValueError as e:
        raise DigitliteError(str(e)) from None
    mnist = load_mnist(config.data_dir or None)
    try:
        atomic.check_writable(config.out)  # fail now, not after the training
    except OSError as e:
        raise DigitliteError(f"{config.out}: output folder cannot be written ({e.strerror or e})") from None
    set_seeds(config.seed)
    (x_train, y_train), (x_val, y_val) = split_validation(
        mnist.train_images, mnist.train_labels, config.val_size, config.seed
    )
    if config.train_samples:
        x_train, y_train = x_train[: config.train_samples], y_train[: config.train_samples]
    if config.redrawn:
        print(f"re-drawing {config.redrawn:.0%} of the digits as pictures and reading them back", file=log, flush=True)
        x_train = _redraw(x_train, config.redrawn, config.seed)
    fonts = synthetic.font_files(config.fonts_dir or None) if config.negatives or config.font_digits else []
    if config.font_digits:
        print(f"writing {config.font_digits:,} digits in {len(fonts)} handwriting fonts", file=log, flush=True)
        extra, labels = synthetic.font_digits(config.font_digits, config.seed, fonts)
        x_train, y_train = np.concatenate([x_train, extra]), np.concatenate([y_train, labels.astype(y_train.dtype)])
    classes = 10
    if config.negatives:
        classes = 11
        print(f"generating {config.negatives:,} + {max(1, config.negatives // 10):,} non-digits for the 'not a digit' "
              "class", file=log, flush=True)
        x_train, y_train = _with_negatives(x_train, y_train, config.negatives, config.seed, x_train, y_train, fonts)
    x_val, y_val = held_out(x_val, y_val, config, fonts)

    model = build_model(config.arch, classes)
    steps = math.ceil(len(x_train) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        warmup_target=config.learning_rate,
        warmup_steps=steps,
        decay_steps=max(steps * (config.epochs - 1), 1),
        alpha=0.01,
    )
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])  # decay kernels only
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Under a cosine schedule the early, high-learning-rate epochs are not candidates: a low
    # validation loss there is a noisy snapshot, and the annealed end is what the schedule is
    # for.  Early stopping and the best-weights choice start at 60% of the epochs.
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True,
        start_from_epoch=int(config.epochs * 0.6),
    )
    stop = StopRequest()
    last = LastWeights(stop)
    started = time.perf_counter()
    history = keras.callbacks.History()
    with signals_to(stop.request):
        # said once the handler is in place, so a signal after this line always gets the answer below
        print(
            f"training {config.arch}: {model.count_params():,} parameters, {count_macs(model):,} MACs/image, "
            f"{len(x_train):,} training / {len(x_val):,} validation images, up to {config.epochs} epochs",
            file=log, flush=True,
        )
        model.fit(
            training_dataset(x_train, y_train, config.batch_size, config.seed, config.augment),
            steps_per_epoch=steps,
            epochs=config.epochs,
            validation_data=eval_dataset(x_val, y_val),
            callbacks=[stop, stopper, last, history, EpochPrinter(config.epochs, log)],
            verbose=0,
            shuffle=False,  # the dataset shuffles itself, reproducibly
        )
    interrupted = stop.requested
    if interrupted:
        if last.weights is None:
            print("interrupted before the first epoch ended: nothing saved, any previous model is "
                  "left as it was", file=log, flush=True)
            raise KeyboardInterrupt
        # The best watched epoch if it ran to its end, else the last one that did.
        best_ok = stopper.best_weights is not None and stopper.best_epoch <= last.epoch
        model.set_weights(stopper.best_weights if best_ok else last.weights)
        kept = (stopper.best_epoch if best_ok else last.epoch) + 1
        print(f"interrupted: keeping the best weights so far (epoch {kept})", file=log, flush=True)
    wall = time.perf_counter() - started
    temperature = 1.0
    if config.calibrate:
        val_probs = model.predict(x_val[..., None].astype(np.float32), batch_size=1000, verbose=0)
        temperature = fit_temperature(val_probs, y_val)
        fold_temperature(model, temperature)
        print(f"calibrated: temperature {temperature:.3f} fitted on the {len(y_val):,} validation images",
              file=log, flush=True)

    out = Path(config.out)
    default = config.arch == TrainConfig.arch
    model_path = out / ("digits.keras" if default else f"{config.arch}.keras")
    report_dir = out / ("report" if default else f"report-{config.arch}")
    try:
        # a second Ctrl-C (or SIGTERM) must not part the model from its report: the writes finish
        with signals_to(signal.SIG_IGN):
            atomic.write_with(model_path, lambda tmp: model.save(tmp), suffix=".keras")
            run = {
                "arch": config.arch,
                "parameters": int(model.count_params()),
                "macs_per_image": count_macs(model),
                "epochs_run": len(history.history.get("loss", [])),
                "best_epoch": int(stopper.best_epoch) + 1 if stopper.best_weights is not None else int(last.epoch) + 1,
                "interrupted": interrupted,
                "report_dir": report_dir.name,
                "wall_time_seconds": round(wall, 1),
                "train_images": int(len(x_train)),
                "validation_images": int(len(x_val)),
                "classes": classes,
                "font_digits": int(config.font_digits),
                "negatives": {"train": int(np.sum(y_train == synthetic.NOT_A_DIGIT)),
                              "validation": int(np.sum(y_val == synthetic.NOT_A_DIGIT))},
                "temperature": round(temperature, 6),
                "validation": _validation_figures(model, x_val, y_val),
                "config": dataclasses.asdict(config),
                "versions": _versions(),
            }
            metrics = write_report(model, history.history, mnist.test_images, mnist.test_labels,
                                   report_dir, run, model_path)
    except OSError as e:
        raise DigitliteError(f"{out}: cannot write the model or its report ({e.strerror or e}); "
                             "nothing is half-written: each file is replaced whole or not at all") from None
    return metrics


def held_out(x_val: np.ndarray, y_val: np.ndarray, config: TrainConfig, fonts: list[bytes]):
    """The validation set that a training with ``config`` holds out, from its split's digits
    ``x_val``/``y_val``: a share re-drawn as the training digits are, and (for an eleven-class model)
    a tenth as many non-digits as it trains on, appended as class 10.  ``benchmarks.views`` rebuilds
    the shipped model's set with it."""
    if config.redrawn:
        x_val = _redraw(x_val, config.redrawn, config.seed + 1)
    if config.negatives:
        x_val, y_val = _with_negatives(x_val, y_val, max(1, config.negatives // 10), config.seed + 10_000,
                                       x_val, y_val, fonts)
    return x_val, y_val


def _redraw(images: np.ndarray, share: float, seed: int) -> np.ndarray:
    """``images`` with a ``share`` of them (a fixed, seeded choice) re-drawn and read back (synthetic.redrawn)."""
    picked = np.flatnonzero(np.random.default_rng(seed).random(len(images)) < share)
    out = images.copy()
    out[picked] = synthetic.redrawn(images[picked], seed)
    return out


def _with_negatives(images, labels, count: int, seed: int, digits, digit_labels, fonts):
    """``images``/``labels`` with ``count`` generated non-digits (class 10) appended; the halves are cut
    from ``digits`` (training digits for the training set, validation ones for validation)."""
    extra, _ = synthetic.generate(count, seed, digits, digit_labels, fonts=fonts)
    return (np.concatenate([images, extra]),
            np.concatenate([labels, np.full(len(extra), synthetic.NOT_A_DIGIT, labels.dtype)]))


def _validation_figures(model, x_val, y_val) -> dict:
    """On the validation set: digits read right, non-digits answered "not a digit", calibration."""
    probs = model.predict(x_val[..., None].astype(np.float32), batch_size=1000, verbose=0)
    pred = probs.argmax(axis=1)
    digit = y_val < 10
    out = {"digits": int(digit.sum()), "digit_accuracy": float(np.mean(pred[digit] == y_val[digit]))}
    if (~digit).any():
        out.update(non_digits=int((~digit).sum()), rejected=float(np.mean(pred[~digit] == synthetic.NOT_A_DIGIT)))
    cal = calibration(pred == y_val, probs.max(axis=1))
    out["ece"] = round(cal["ece"], 6)
    return out


def _versions() -> dict:
    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__}
