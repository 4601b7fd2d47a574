"""Rules or a model that answers "not a digit": which rejects better without losing digits?

    python -m digitlite.benchmarks.reject [--train-clips 40] [--epochs 6] [--seed 41] [--update-readme]

The rules are edge/vision/ink.py, edge/vision/preprocess.py and edge/vision/lines.py: the page's lines dropped at any angle,
pieces cut by the frame's edge, specks, dashes and scattered remnants refused.  The model is
the other way the meter readers of AI-on-the-edge-device take: ten digit classes and an
eleventh, "not a digit", trained on what the camera sees between digits.  Here it is trained
(TensorFlow, a small CNN; an optional comparison) on the MNIST training images and on the
candidates the pipeline finds in desk clips of their own seeds (3000 on, never the set it is
scored on): a candidate over a digit is that digit, one that touches no digit is "not a
digit".  Three ways are scored on the camera benchmark's desk set (same seed, same truth),
the shipped model reading the digits in all three:

* rules: the pipeline as shipped;
* rules + model: candidates the eleven-class model calls "not a digit" are dropped too;
* model alone: the page's lines are not removed; the eleven-class model drops what is not a
  digit (the rules for specks and the frame's edge still apply).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from digitlite.benchmarks.camera import score, write_desk_set
from digitlite.benchmarks.common import RESULTS, UpdateReadme, machine, run_main
from digitlite.benchmarks.desk import digit_boxes, make_clip, render_frame
from digitlite.benchmarks.publish import publish
from digitlite.edge.apps.camera import FrameReader
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.reading import NumberReading
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.quiet import import_tensorflow
from digitlite.edge.vision import ink
from digitlite.edge.vision.lines import Lines

MARKERS = ("<!-- reject-results:begin -->", "<!-- reject-results:end -->")
NOT_A_DIGIT = 10


@contextmanager
def without_line_rules():
    """Run the pipeline with the page's lines left in (for the 'model alone' way)."""
    kept = ink.find_lines
    ink.find_lines = lambda strength, mask, tracker=None, from_edge=True: Lines(mask.shape)
    try:
        yield
    finally:
        ink.find_lines = kept


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def harvest(clips: int, frames: int, mnist, classifier, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """28x28 candidates from desk clips (seeds 3000 on), with and without the line rules, labelled
    by the truth: a digit's class where a candidate covers a digit, NOT_A_DIGIT where it touches none."""

    pixels, labels = [], []
    for lines_removed in (True, False):
        for c in range(clips):
            clip = make_clip(3000 + c, frames, mnist.train_images, mnist.train_labels)  # never a test shape
            rng = np.random.default_rng(3000 + c)
            reader = FrameReader(classifier)
            for i in range(0, frames, step):
                frame = render_frame(clip, i, rng)
                if lines_removed:
                    found = reader.candidates(frame)
                else:
                    with without_line_rules():
                        found = reader.candidates(frame)
                truth = digit_boxes(clip, i, margin=0)
                for d in found:
                    overlaps = [(_overlap(d.box, box), digit) for digit, box, _ in truth]
                    best = max(overlaps, default=(0.0, None))
                    if best[0] >= 0.5:
                        pixels.append(d.pixels)
                        labels.append(best[1])
                    elif best[0] == 0.0:
                        pixels.append(d.pixels)
                        labels.append(NOT_A_DIGIT)
    return np.asarray(pixels, np.uint8), np.asarray(labels, np.int64)


def train_rejector(x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0):
    """A small eleven-class CNN (digits and NOT_A_DIGIT) in Keras; returns a predict function.

    "Not a digit" is rare among the candidates (the rules drop most of it): its examples are
    repeated until they are a tenth of the training set.
    """

    tf = import_tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255.0),
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(48, 3, padding="same", activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(11, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    junk = np.flatnonzero(y == NOT_A_DIGIT)
    if len(junk):
        repeats = max(0, int(0.1 * len(x) / len(junk)) - 1)
        x = np.concatenate([x] + [x[junk]] * repeats)
        y = np.concatenate([y] + [y[junk]] * repeats)
    order = np.random.default_rng(seed).permutation(len(x))
    model.fit(x[order][..., None], y[order], epochs=epochs, batch_size=256, verbose=0)
    return lambda pixels: model.predict(np.asarray(pixels)[..., None], verbose=0)


def score_way(folder: Path, classifier, reject=None, lines: bool = True) -> dict:
    """Read the desk set in ``folder`` one way; digit frames right and empty frames "no digit"."""
    # optional: OpenCV, the [camera] extra
    import cv2

    truth = json.loads((folder / "truth.json").read_text())["truth"]
    reader = FrameReader(classifier)
    cap = cv2.VideoCapture(str(folder / "desk.avi"))
    readings, dropped = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if lines:
            found = reader.candidates(frame)
        else:
            with without_line_rules():
                found = reader.candidates(frame)
        if found and reject is not None:
            keep = reject(np.stack([d.pixels for d in found])).argmax(axis=1) != NOT_A_DIGIT
            dropped += int((~keep).sum())
            found = [d for d, k in zip(found, keep) if k]
        readings.append(NumberReading.of(reader.classify(found)).number)  # as the camera reads them
    cap.release()
    groups = score(readings, truth)["groups"]
    none = {"right": 0, "frames": 0, "rate": 0.0}
    return {"digit": groups.get("digit", none), "empty": groups.get("empty", none), "dropped_by_model": dropped}


def markdown(result: dict) -> str:
    """The README table."""
    names = {"rules": "rules (shipped)", "rules_and_model": "rules + eleven-class model",
             "model_alone": "eleven-class model, page lines left in"}
    rows = ["| way | digit frames read right | empty frames \"no digit\" | candidates the model dropped |",
            "|---|---|---|---|"]
    for key, name in names.items():
        r = result["ways"][key]
        rows.append(f"| {name} | {r['digit']['rate'] * 100:.1f}% | {r['empty']['rate'] * 100:.1f}% | "
                    f"{r['dropped_by_model'] if key != 'rules' else '–'} |")
    t, m = result["training"], result["machine"]
    rows += ["", f"Desk set seed {result['seed']} ({result['frames']:,} frames), the shipped model reading the "
             f"digits. The eleven-class model: {t['epochs']} epochs on the 60,000 MNIST training images and "
             f"{t['candidates']:,} candidates from {t['clips']} desk clips of other seeds ({t['not_a_digit']:,} "
             f"of them \"not a digit\"); it calls {t['mnist_test_kept'] * 100:.2f}% of the MNIST test images digits. "
             f"On {m['cpu']} ({m['cores']} cores). By `python -m digitlite.benchmarks.reject`."]
    return "\n".join(rows)


def main(argv=None) -> int:
    """Harvest, train, score the three ways, print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.reject", description=__doc__.split("\n\n")[0])
    p.add_argument("--train-clips", type=int, default=40, help="desk clips the candidates are taken from")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=41, help="the desk set scored (the camera benchmark's)")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--keep", metavar="DIR", help="the desk set's folder (written there if it is not)")
    p.add_argument("--data-dir", default="")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    mnist = load_mnist(args.data_dir or None)
    classifier = Model(default_model(), threads=1)
    print(f"harvesting candidates from {args.train_clips} desk clips", file=sys.stderr, flush=True)
    x, y = harvest(args.train_clips, args.frames, mnist, classifier)
    print(f"training on {len(mnist.train_images):,} MNIST images and {len(x):,} candidates", file=sys.stderr, flush=True)
    reject = train_rejector(np.concatenate([mnist.train_images, x]), np.concatenate([mnist.train_labels, y]),
                            args.epochs)
    kept = float((reject(mnist.test_images).argmax(axis=1) != NOT_A_DIGIT).mean())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        meta = folder / "truth.json"
        if not meta.is_file() or json.loads(meta.read_text())["seed"] != args.seed:
            write_desk_set(folder, args.seed, args.clips, args.frames, mnist.test_images, mnist.test_labels)
        frames = len(json.loads(meta.read_text())["truth"])
        ways = {"rules": score_way(folder, classifier),
                "rules_and_model": score_way(folder, classifier, reject),
                "model_alone": score_way(folder, classifier, reject, lines=False)}
    result = {"seed": args.seed, "frames": frames, "ways": ways, "machine": machine(),
              "training": {"clips": args.train_clips, "epochs": args.epochs, "candidates": int(len(x)),
                           "not_a_digit": int((y == NOT_A_DIGIT).sum()), "mnist_test_kept": kept}}
    publish("reject", result, markdown(result), MARKERS, args.update_readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
