"""The shipped model through the edge commands alone: what a Pi with only an interpreter runs.

Marked `edge`: .ci/run runs these again in a virtual environment holding only
tflite-runtime, NumPy 1, Pillow and pytest (no TensorFlow, no ai-edge-litert).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, assert_one_line_error, run_cli
from PIL import Image
from test_preprocess import photo_of

pytestmark = pytest.mark.edge
SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"


def test_the_model_and_its_card_ship_in_the_package():
    from digitlite.edge.runtime.shipped import default_model

    assert default_model() == SHIPPED and SHIPPED.stat().st_size <= 125_000
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    import hashlib

    assert card["sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert card["variant"] == "int8" and card["full_integer"] is True and card["status"] == "passed"


def test_eval_of_the_shipped_model_matches_its_card(mnist_dir):
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    result = run_cli("eval", str(SHIPPED), "--json", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(card["tflite_accuracy"])


def test_classify_with_the_default_model_reads_photos_and_drawings(tmp_path, mnist):
    labels = {}
    for i in range(10):
        digit = mnist.test_images[i]
        Image.fromarray(photo_of(digit, seed=i).astype(np.uint8)).save(tmp_path / f"photo_{i}.jpg")
        Image.fromarray(255 - digit).resize((280, 280)).save(tmp_path / f"drawing_{i}.png")
        labels[f"photo_{i}.jpg"] = labels[f"drawing_{i}.png"] = int(mnist.test_labels[i])
    result = run_cli("classify", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    right = sum(r["digit"] == labels[r["path"].rsplit("/", 1)[-1]] for r in records)
    assert len(records) == 20 and right >= 19


def test_no_heavy_module_is_imported_by_classify(tmp_path, mnist):
    Image.fromarray(mnist.test_images[0]).save(tmp_path / "d.png")
    code = ("import sys\nfrom digitlite.edge.cli import main\n"
            f"rc = main(['classify', {str(tmp_path / 'd.png')!r}])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'cv2') or m.startswith(('digitlite.train', 'digitlite.quantize', 'digitlite.benchmarks')))\n"
            "print('HEAVY', heavy, rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO))
    assert "HEAVY [] 0" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("keep", [0.02, 0.1, 0.4, 0.8, 0.99])
def test_a_truncated_model_is_one_line_not_a_crash(tmp_path, keep):
    # tflite-runtime 2.14 maps the file and dies with a bus error on a cut model unless
    # the runtime checks the layout first.
    data = SHIPPED.read_bytes()
    (tmp_path / "m.tflite").write_bytes(data[: int(len(data) * keep)])
    result = run_cli("eval", str(tmp_path / "m.tflite"), "--samples", "10")
    assert_one_line_error(result, "m.tflite", "not a valid TFLite model")


def test_layout_check_accepts_the_shipped_model_and_rejects_garbage():
    from digitlite.edge.runtime.interpreter import check_tflite_bytes

    data = SHIPPED.read_bytes()
    assert check_tflite_bytes(data) is None
    assert check_tflite_bytes(b"") == check_tflite_bytes(b"PK\x03\x04zip") == "no TFLite identifier (TFL3)"
    assert check_tflite_bytes(data[:8] + b"\xff" * (len(data) - 8)) == "truncated or corrupt"


def test_eval_predictions_give_each_images_digit_and_probabilities(mnist_dir, mnist):
    """What benchmarks.pi_emulation compares between machines, output for output."""
    args = ("eval", str(SHIPPED), "--samples", "300", "--json", "--predictions", "--data-dir", str(mnist_dir))
    first, again = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    preds, probs = np.array(report["predictions"]), np.array(report["probabilities"])
    assert preds.shape == (300,) and probs.shape == (300, 11)  # ten digits and "not a digit"
    assert (probs.argmax(axis=1) == preds).all() and np.allclose(probs.sum(axis=1), 1, atol=0.02)
    assert report["accuracy"] == pytest.approx(float(np.mean(preds == mnist.test_labels[:300])))
    assert len(report["probabilities_sha256"]) == 64
    assert json.loads(again.stdout)["probabilities_sha256"] == report["probabilities_sha256"]  # deterministic
    assert "predictions" not in json.loads(run_cli(*args[:-3], "--data-dir", str(mnist_dir)).stdout)


def test_info_runs_the_model_and_times_calls(tmp_path):
    result = run_cli("info", "--json", "--calls", "200", "--threads", "1")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["calls"] == 200 and 0 < info["call_p50_us"] <= info["call_p99_us"]
    assert info["input"]["shape"] == [1, 28, 28, 1] and info["output"]["shape"] == [1, 11]
    assert info["card_accuracy"] == json.loads(SHIPPED.with_suffix(".json").read_text())["tflite_accuracy"]
    assert_one_line_error(run_cli("info", "--calls", "-1"), "--calls must not be negative")
    (tmp_path / "cut.tflite").write_bytes(SHIPPED.read_bytes()[:20_000])
    assert_one_line_error(run_cli("info", "--model", str(tmp_path / "cut.tflite")), "cut.tflite: not a valid TFLite model")


def test_time_calls_counts_only_timed_calls():
    from digitlite.edge.runtime.interpreter import Model

    clf = Model(SHIPPED, threads=1)
    times = clf.time_calls(clf.to_input(np.zeros((1, 28, 28), np.uint8)), runs=30, warmup=5)
    assert len(times) == 30 and all(t > 0 for t in times)
    assert len(clf.time_calls(clf.to_input(np.zeros((4, 28, 28), np.uint8)), runs=1, min_seconds=0.05)) > 1
