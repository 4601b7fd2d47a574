"""The settings of a training run and their defaults, in one place (no TensorFlow import)."""

from __future__ import annotations

from dataclasses import dataclass, field


def _opt(default, help):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every knob of a training run, with its default; `digitlite train --help` lists them."""

    arch: str = _opt("digitnet", "architecture: digitnet (default, small and fast), micronet (for "
                     "microcontrollers: ~9 k parameters, 16 KB of arena) or baseline (classic)")
    epochs: int = _opt(60, "maximum number of epochs")
    batch_size: int = _opt(128, "images per training step")
    learning_rate: float = _opt(3e-3, "peak learning rate (reached after one warm-up epoch, then cosine decay)")
    weight_decay: float = _opt(0.05, "AdamW decoupled weight decay, on kernels only (not BatchNorm or biases)")
    val_size: int = _opt(5000, "training images held out for validation")
    patience: int = _opt(20, "stop after this many epochs without a better validation loss, counted from 60%% "
                         "of the epochs on (before that the cosine schedule's learning rate is still high)")
    augment: bool = _opt(True, "random rotation, zoom, shear and shift of the training images")
    seed: int = _opt(1, "random seed (split, shuffling, augmentation, initial weights)")
    train_samples: int = _opt(0, "train on the first N images after the split (0: all); for quick runs")
    redrawn: float = _opt(0.5, "share of the training digits re-drawn as pictures and read back the way the edge "
                          "runtime reads a photo, so that its marks on the input are no sign of 'not a digit'")
    negatives: int = _opt(24000, "generated non-digits (letters, symbols, scribbles, half digits, paper) that teach an "
                          "eleventh class, 'not a digit'; a tenth as many more are held out for validation (0: a "
                          "ten-class model)")
    font_digits: int = _opt(8000, "digits written in handwriting fonts (a European 1 and 7, open 4s), drawn as "
                            "pictures and read back, added to the training digits")
    fonts_dir: str = _opt("", "a folder holding the handwriting fonts' npm tarballs, for a machine without network "
                          "(default: the cache, else the npm registry, once)")
    calibrate: bool = _opt(True, "fit a temperature on the validation set so that confidence means accuracy, and "
                           "fold it into the last layer")
    data_dir: str = _opt("", "folder holding the MNIST .gz files (default: $DIGITLITE_DATA, then the cache)")
    out: str = _opt("models", "output folder for the model and its report/")

    def check(self, architectures=None) -> None:
        """Raise ValueError naming the first setting that cannot work.

        ``architectures``, when given, is the registry that ``arch`` must name.
        """
        if architectures is not None and self.arch not in architectures:
            raise ValueError(f"--arch {self.arch!r} is unknown; choose one of {', '.join(architectures)}")
        for name in ("epochs", "batch_size", "val_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("patience", "train_samples", "negatives", "font_digits"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must not be negative")
        if not 0.0 <= self.redrawn <= 1.0:
            raise ValueError("--redrawn must be between 0 and 1")
        if not self.learning_rate > 0:
            raise ValueError("--learning-rate must be positive")
        if self.val_size >= 60000:
            raise ValueError("--val-size must leave training images (at most 59999)")


@dataclass
class TuneConfig:
    """Every knob of fine-tuning on a person's own digits, with its default; `digitlite tune --help` lists them."""

    samples: str = _opt("", "the folder of samples: DIR/0/ ... DIR/9/ (and DIR/not_a_digit/), as --collect writes it")
    model: str = _opt("", "the Keras model to start from (default: the float weights of the shipped digits model)")
    name: str = _opt("tuned", "the tuned model's name: OUT/NAME.keras, then digitlite quantize OUT/NAME.keras")
    epochs: int = _opt(6, "passes over the mix of the samples, MNIST replay and non-digits")
    batch_size: int = _opt(64, "images per training step")
    learning_rate: float = _opt(4e-4, "peak learning rate (cosine decay); low, so that MNIST is not forgotten")
    holdout: float = _opt(0.25, "share of each digit's samples held out to check the tuning (at least one each)")
    replay: int = _opt(6000, "MNIST training digits mixed in, so that MNIST is not forgotten")
    font_digits: int = _opt(1000, "digits written in handwriting fonts mixed in, as the training had them")
    negatives: int = _opt(6000, "generated non-digits mixed in (for a model with the 'not a digit' class), so that it "
                          "still refuses letters and scribbles")
    fonts_dir: str = _opt("", "a folder holding the handwriting fonts' npm tarballs, for the non-digits' letters on a "
                          "machine without network (default: the cache, else the npm registry, once)")
    sample_share: float = _opt(0.15, "the samples' share of each epoch's images (they are repeated to reach it)")
    seed: int = _opt(1, "random seed (hold-out split, mix, augmentation)")
    data_dir: str = _opt("", "folder holding the MNIST .gz files (default: $DIGITLITE_DATA, then the cache)")
    out: str = _opt("models", "output folder for the tuned model and its report")

    def check(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("replay", "negatives", "font_digits"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must not be negative")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError("--holdout must be between 0 and 1 (exclusive)")
        if not 0.0 < self.sample_share < 1.0:
            raise ValueError("--sample-share must be between 0 and 1 (exclusive)")
        if not self.learning_rate > 0:
            raise ValueError("--learning-rate must be positive")
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ValueError(f"--name {self.name!r}: use letters, digits, - and _")
