"""What each model needs on a microcontroller, and proof that the exported sources predict what LiteRT does.

    python -m digitlite.benchmarks.mcu --update-readme

For each model: ``digitlite export --target mcu`` into a temp folder; the bytes of its
``model_data.cc`` array, run by TensorFlow Lite Micro's interpreter in the arena its
``model_data.h`` states, on all 10,000 MNIST test images, one invoke each as on a device;
their predictions against LiteRT's; accuracy; flash (model bytes) and RAM (arena + the
784-byte input image); and the time of one invoke with TFLite Micro's *reference* kernels on
this CPU (an x86 core, not a microcontroller's: the relative cost of the models, no more).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.deploy.mcu import export_mcu, load_sources, tflm_version
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.digest import sha256_file

MARKERS = ("<!-- mcu-results:begin -->", "<!-- mcu-results:end -->")


def measure(model: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """Export ``model`` for a microcontroller and check and time what was exported."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_mcu(Path(tmp) / "src", model)
        micro = load_sources(Path(tmp) / "src")
    litert_probs = Model(model, threads=1).predict_proba(images)
    litert = litert_probs.argmax(axis=1)
    times, outputs = [], []
    for image in images:  # one invoke per image, timed
        started = time.perf_counter()
        raw = micro.invoke(image)
        times.append(time.perf_counter() - started)
        outputs.append(np.asarray(raw).reshape(-1).copy())
    outputs = np.stack(outputs)
    predictions = outputs.argmax(axis=1)  # the first of equal scores, as main.cc's ClassifyDigit
    scale = bundle["output"]["scale"] or 1.0
    steps = np.round(np.abs(micro.dequantize(outputs) - litert_probs) / scale).astype(int).max(axis=1)
    return {
        "model": model.name, "sha256": sha256_file(model), "model_bytes": bundle["model_bytes"],
        "arena_bytes": bundle["arena_bytes"],
        "arena_measured_bytes": bundle["arena_measured_bytes"], "arena_margin_bytes": bundle["arena_margin_bytes"],
        "ram_bytes": bundle["ram_bytes"], "operators": bundle["operators"], "images": len(images),
        "accuracy": float(np.mean(predictions == labels)), "card_accuracy": bundle["accuracy"],
        "same_as_litert": int(np.sum(predictions == litert)),
        "identical_outputs": int(np.sum(steps == 0)), "max_output_steps_apart": int(steps.max()),
        "disagreements": [{"image": int(i), "label": int(labels[i]), "tflite_micro": outputs[i].tolist(),
                           "litert": np.round(litert_probs[i] / scale).astype(int).tolist()}
                          for i in np.flatnonzero(predictions != litert)],
        "invoke_p50_ms": float(np.percentile(times, 50) * 1000), "invoke_p99_ms": float(np.percentile(times, 99) * 1000),
        "tflite_micro": tflm_version(),
    }


def markdown(result: dict) -> str:
    """The table: one row per model."""
    rows = ["| model | flash (model) | RAM (arena + input) | arena: measured + margin | MNIST test accuracy "
            "(TFLite Micro) | same prediction as LiteRT | one invoke, reference kernels, this CPU (p50) |",
            "|---|---|---|---|---|---|---|"]
    for r in result["models"]:
        rows.append(f"| `{r['model']}` | **{r['model_bytes'] / 1024:.1f} KB** | **{r['ram_bytes'] / 1024:.1f} KB** | "
                    f"{r['arena_measured_bytes']:,} + {r['arena_margin_bytes']:,} B | {r['accuracy'] * 100:.2f}% | "
                    f"{r['same_as_litert']:,}/{r['images']:,} | {r['invoke_p50_ms']:.2f} ms |")
    m = result["machine"]
    notes = []
    for r in result["models"]:
        notes.append(f"`{r['model']}`: {r['identical_outputs']:,} of {r['images']:,} outputs identical to LiteRT's, "
                     f"the rest at most {r['max_output_steps_apart']} steps of 1/256 apart (reference kernels "
                     "round some requantizations differently from LiteRT's optimized ones)")
        for d in r["disagreements"]:
            notes.append(f"a different prediction on test image {d['image']} (a {d['label']}): TFLite Micro's "
                         f"scores {d['tflite_micro']}, LiteRT's {d['litert']}")
    rows += ["", "; ".join(notes) + ".", "", "Each model exported with `digitlite export --target mcu`; the bytes of the generated "
             "`model_data.cc`, run by TensorFlow Lite Micro's own interpreter (tflite-micro "
             f"{result['models'][0]['tflite_micro']}) in the arena `model_data.h` states, one invoke per test image. "
             "The arena is the smallest in which it allocates and runs (reference kernels, 64-bit host) plus the "
             "scratch Arm's CMSIS-NN kernels may ask for. The invoke time is TFLite Micro's *reference* kernels on "
             f"{m['cpu']}, not a microcontroller's: it ranks the models, it does not predict a board's speed. "
             "Not proven here: compiling for and running on a real board. By `python -m digitlite.benchmarks.mcu`."]
    return "\n".join(rows)


def main(argv=None) -> int:
    """Measure the shipped models (or those given) and print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.mcu", description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help=".tflite models with their cards (default: the shipped int8 models)")
    p.add_argument("--samples", type=int, default=0, help="only the first N test images (0: all 10,000)")
    p.add_argument("--data-dir", help="folder holding the MNIST .gz files")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    shipped = default_model().parent
    models = [Path(m) for m in args.models] or [shipped / "digits_int8.tflite", shipped / "micronet_int8.tflite"]
    test = load_mnist(args.data_dir, test_only=True)
    images, labels = test.test_images, test.test_labels
    if args.samples:
        images, labels = images[:args.samples], labels[:args.samples]
    result = {"models": [measure(m, images, labels) for m in models], "machine": machine()}
    publish("mcu", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
