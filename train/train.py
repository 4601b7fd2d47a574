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

from digitlite.edge.quiet import import_tensorflow

tf = import_tensorflow()

import keras  # noqa: E402  (after TensorFlow's quiet import)
import numpy as np  # noqa: E402

from digitlite.edge import atomic  # noqa: E402
from digitlite.edge.errors import DigitliteError  # noqa: E402
from digitlite.edge.mnist import load_mnist  # noqa: E402
from digitlite.edge.signals import signals_to  # noqa: E402
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


def _set_seeds(seed: int) -> None:
    keras.utils.set_random_seed(seed)


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
    _set_seeds(config.seed)
    (x_train, y_train), (x_val, y_val) = split_validation(
        mnist.train_images, mnist.train_labels, config.val_size, config.seed
    )
    if config.train_samples:
        x_train, y_train = x_train[: config.train_samples], y_train[: config.train_samples]

    model = build_model(config.arch)
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
    print(
        f"training {config.arch}: {model.count_params():,} parameters, {count_macs(model):,} MACs/image, "
        f"{len(x_train):,} training / {len(x_val):,} validation images, up to {config.epochs} epochs",
        file=log, flush=True,
    )
    started = time.perf_counter()
    history = keras.callbacks.History()
    with signals_to(stop.request):
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
                "config": dataclasses.asdict(config),
                "versions": _versions(),
            }
            metrics = write_report(model, history.history, mnist.test_images, mnist.test_labels,
                                   report_dir, run, model_path)
    except OSError as e:
        raise DigitliteError(f"{out}: cannot write the model or its report ({e.strerror or e}); "
                             "nothing is half-written: each file is replaced whole or not at all") from None
    return metrics


def _versions() -> dict:
    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__}
