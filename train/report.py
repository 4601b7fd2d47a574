"""The training report: metrics.json and the plots, each written atomically.

metrics.json is written last and names the sha256 of the model it describes, so a
report and a model that do not belong together can be told apart.
"""

from __future__ import annotations

from pathlib import Path

from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from digitlite.edge.data.metrics import calibration, classification_report  # noqa: E402
from digitlite.edge.util import atomic  # noqa: E402

MAX_SHOWN = 48  # misclassified digits drawn (a model at 99.6% has about 40)
PLOTS = ("curves.png", "confusion_matrix.png", "samples.png", "misclassified.png", "feature_maps.png")


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10 or 11) for uint8 images (N, 28, 28)."""
    return model.predict(images[..., None].astype(np.float32), batch_size=batch_size, verbose=0)


def _save(fig, path: Path) -> None:
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def plot_curves(history: dict, path: Path) -> None:
    """Loss and accuracy per epoch, training and validation."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    # Accuracy is drawn as its error rate on a log axis: on a linear accuracy axis the first
    # epoch's 90% squeezes the later epochs' 99.3-99.6% into one flat line.
    def error(values):
        return [max(1.0 - v, 1e-4) for v in values]

    for ax, key, label, how in ((axes[0], "loss", "loss", list), (axes[1], "accuracy", "error (1 - accuracy)", error)):
        ax.plot(epochs, how(history.get(key, [])), label="train")
        ax.plot(epochs, how(history.get(f"val_{key}", [])), label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(f"{label}, log scale")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[1].yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=None))
    axes[1].yaxis.set_minor_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0, decimals=None))
    _save(fig, path)


def plot_confusion(cm: np.ndarray, path: Path) -> None:
    """The confusion matrix with counts in each cell; the diagonal dimmed so errors stand out."""
    cm = np.asarray(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(off, cmap="Reds")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="gray" if i == j else ("white" if off[i, j] > off.max() / 2 else "black"))
    names = [str(c) if c < 10 else "not" for c in range(cm.shape[1])]  # class 10: "not a digit"
    ax.set_xticks(range(cm.shape[1]), names)
    ax.set_yticks(range(cm.shape[0]), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (test set; colour = errors)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    _save(fig, path)


def plot_digits(images, titles, colors, path: Path, suptitle: str, cols: int = 8) -> None:
    """A grid of digits with a coloured title under each."""
    n = max(len(images), 1)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title, color in zip(axes.flat, images, titles, colors):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(title, fontsize=8, color=color)
    if not len(images):
        axes.flat[0].text(0.5, 0.5, "none", ha="center", va="center")
    fig.suptitle(suptitle)
    _save(fig, path)


def plot_feature_maps(model: keras.Model, image: np.ndarray, path: Path, max_maps: int = 16) -> None:
    """Activations of each convolution block for one test digit."""
    convs = [layer for layer in model.layers if isinstance(layer, (keras.layers.ReLU, keras.layers.Conv2D))
             and len(layer.output.shape) == 4]
    # After a Conv2D with its own activation, or the ReLU that follows a BatchNorm.
    convs = [layer for layer in convs if isinstance(layer, keras.layers.ReLU) or
             getattr(layer, "activation", None) is not keras.activations.linear]
    probe = keras.Model(model.inputs, [layer.output for layer in convs])
    outputs = probe.predict(image[None, ..., None].astype(np.float32), verbose=0)
    if not isinstance(outputs, list):
        outputs = [outputs]
    rows = len(outputs) + 1
    fig, axes = plt.subplots(rows, max_maps, figsize=(max_maps * 0.9, rows * 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(image, cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=7)
    for r, (layer, out) in enumerate(zip(convs, outputs), start=1):
        for c in range(min(max_maps, out.shape[-1])):
            axes[r, c].imshow(out[0, :, :, c], cmap="viridis")
        shown = f" (first {max_maps} of {out.shape[3]} channels)" if out.shape[3] > max_maps else ""
        axes[r, 0].set_title(f"{layer.name} {out.shape[1]}x{out.shape[2]}x{out.shape[3]}{shown}", fontsize=7, loc="left")
    fig.suptitle(f"feature maps of the first test digit (up to {max_maps} channels a layer)")
    _save(fig, path)


def misclassified_title(errors: int, samples: int, shown: int) -> str:
    """The title of misclassified.png: how many errors, and how many of them the grid shows."""
    part = f"; the first {shown} shown" if shown < errors else ""
    return f"misclassified: {errors} of {samples:,} test digits (true→predicted){part}"


def write_report(model: keras.Model, history: dict, test_images: np.ndarray, test_labels: np.ndarray,
                 folder: Path, run: dict, model_path: Path) -> dict:
    """Evaluate ``model`` on the test set and write metrics.json and the plots into ``folder``."""
    folder = Path(folder)
    probs = predict(model, test_images)
    report = classification_report(test_labels, probs)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    shown = np.where(pred < 10, pred.astype(str), "not")

    plot_curves(history, folder / "curves.png")
    plot_confusion(np.array(report["confusion_matrix"]), folder / "confusion_matrix.png")
    idx = np.arange(32)
    plot_digits(test_images[idx], [f"{shown[i]} ({conf[i] * 100:.0f}%)" for i in idx],
                ["green" if pred[i] == test_labels[i] else "red" for i in idx],
                folder / "samples.png", "predictions on the first 32 test digits")
    wrong = np.array(report["misclassified"][:MAX_SHOWN], dtype=np.int64)
    plot_digits(test_images[wrong], [f"{test_labels[i]}→{shown[i]} ({conf[i] * 100:.0f}%)" for i in wrong],
                ["red"] * len(wrong), folder / "misclassified.png",
                misclassified_title(report["errors"], report["samples"], len(wrong)))
    plot_feature_maps(model, test_images[0], folder / "feature_maps.png")

    metrics = {
        "test_accuracy": report["accuracy"],
        "test_loss": report["loss"],
        **run,
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "model_file": model_path.name,
        "model_sha256": sha256_file(model_path),
        "test": report,
        "test_calibration": calibration(pred == test_labels, conf),
        "test_not_a_digit": int(np.sum(pred == 10)),  # test digits the model calls "not a digit"
    }
    atomic.write_json(folder / "metrics.json", metrics)
    return metrics
