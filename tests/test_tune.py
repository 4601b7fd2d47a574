"""`digitlite tune DIR`: fine-tune the shipped model on a person's samples, hold some out, report before and
after; `digitlite quantize` gates the tuned model on its held-out samples; bad folders and models are one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, default_signals, run_cli
from PIL import Image
from test_train import _wait_for

QUICK = ("--epochs", "3", "--replay", "1500", "--negatives", "300", "--font-digits", "100", "--sample-share", "0.3")


@pytest.fixture(scope="module")
def style_samples(tmp_path_factory):
    """One writer's pictures (benchmarks.tune's style), 6 of each digit, sorted into DIR/<digit>/."""
    from digitlite.benchmarks.tune import write_style

    folder = tmp_path_factory.mktemp("samples") / "mine"
    files = write_style(folder, 6, seed=11)
    test = write_style(tmp_path_factory.mktemp("style-test") / "test", 8, seed=12)
    return folder, files, test


@pytest.fixture(scope="module")
def tuned(style_samples, tmp_path_factory, mnist_dir):
    folder, _, _ = style_samples
    out = tmp_path_factory.mktemp("tuned")
    result = run_cli("tune", str(folder), "--out", str(out), "--name", "mine", "--data-dir", str(mnist_dir), *QUICK,
                     "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def test_tune_starts_from_the_shipped_int8_models_own_weights(mnist):
    """The float model read back out of the shipped int8 model answers the MNIST test images as it does."""
    from digitlite.edge.runtime.card import ModelCard
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model
    from digitlite.train.tune import start_model

    net, base = start_model()
    assert "digits_int8.tflite" in base
    images = mnist.test_images
    float_pred = net.predict(images[..., None].astype(np.float32), batch_size=1000, verbose=0).argmax(axis=1)
    int8_pred = Model(default_model()).predict_proba(images).argmax(axis=1)
    assert np.mean(float_pred == int8_pred) >= 0.999  # measured: 9,998 of 10,000
    card = ModelCard.of(default_model())
    assert abs(np.mean(float_pred == mnist.test_labels) - card.float_accuracy) <= 0.001  # measured: 99.30% both


def test_an_int8_model_of_another_architecture_is_one_line():
    from digitlite.edge.runtime.shipped import SHIPPED, default_model
    from digitlite.edge.util.errors import DigitliteError
    from digitlite.train.from_int8 import float_model

    with pytest.raises(DigitliteError, match="not a digitnet model"):
        float_model(default_model().with_name(SHIPPED["micronet"][0]))


def test_tune_learns_the_style_and_keeps_mnist(tuned, style_samples):
    out, report = tuned
    s = report["samples"]
    assert s["total"] == 60 and s["held_out"] == 20 and s["trained_on"] == 40  # 0.25 of 6 -> 2 of each digit
    assert s["held_out_per_class"] == {str(d): 2 for d in range(10)}
    assert len(report["held_out_files"]) == 20 and len(s["sha256"]) == 64
    assert report["after"]["holdout_accuracy"] > report["before"]["holdout_accuracy"]
    assert report["after"]["mnist_accuracy"] >= report["before"]["mnist_accuracy"] - 0.005
    assert (out / "mine.keras").is_file() and (out / "mine.holdout.npz").is_file()
    assert json.loads((out / "mine.tune.json").read_text()) == report
    with np.load(out / "mine.holdout.npz") as held:
        assert held["images"].shape == (20, 28, 28) and sorted(held["labels"].tolist()) == sorted(list(range(10)) * 2)


def test_quantize_gates_the_tuned_model_and_its_card_records_the_tuning(tuned, style_samples, mnist_dir):
    out, report = tuned
    result = run_cli("quantize", str(out / "mine.keras"), "--data-dir", str(mnist_dir), timeout=900)
    assert result.returncode == 0, result.stderr
    from digitlite.edge.runtime.card import ModelCard

    for name in ("mine_int8.tflite", "mine_int8_b1.tflite"):
        card = ModelCard.of(out / name)
        t = card.tuning
        assert card.status == "passed" and t["samples"] == 60 and t["held_out"] == 20
        assert t["samples_sha256"] == report["samples"]["sha256"]
        assert t["held_out_right"]["tuned"] >= t["held_out_right"]["shipped"] and t["held_out_right"]["of"] == 20
        assert t["float"]["after"] == report["after"]
    # the tuned model serves every command by path: classify reads the style's test pictures with it
    _, _, test = style_samples
    paths = [str(p) for p, _ in test]
    shipped = [json.loads(line)["digit"] for line in run_cli("classify", *paths, "--json").stdout.splitlines()]
    mine = [json.loads(line)["digit"] for line in
            run_cli("classify", *paths, "--json", "--model", str(out / "mine_int8.tflite")).stdout.splitlines()]
    truth = [d for _, d in test]
    assert sum(a == b for a, b in zip(mine, truth)) > sum(a == b for a, b in zip(shipped, truth))
    # and the exports take it: the microcontroller sources of its batch-1 twin, the Pi bundle with it
    mcu = run_cli("export", "--target", "mcu", str(out / "mcu"), "--model", str(out / "mine_int8_b1.tflite"))
    assert mcu.returncode == 0, mcu.stderr
    assert json.loads((out / "mcu" / "bundle.json").read_text())["sha256"] == ModelCard.of(
        out / "mine_int8_b1.tflite").sha256
    pi = run_cli("export", "--target", "pi", str(out / "pi"), "--model", str(out / "mine_int8.tflite"))
    assert pi.returncode == 0, pi.stderr
    assert (out / "pi" / "model" / "mine_int8.tflite").read_bytes() == (out / "mine_int8.tflite").read_bytes()


def test_quantize_refuses_a_tuned_model_worse_than_the_shipped_on_its_held_out_samples(tuned, tmp_path, mnist_dir):
    """The held-out labels replaced by what the shipped model reads: the tuned model, which reads them as
    the writer meant, is now "worse" than the shipped one there, and is refused."""
    import shutil

    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model

    out, _ = tuned
    for name in ("mine.keras", "mine.tune.json"):
        shutil.copy(out / name, tmp_path / name)
    with np.load(out / "mine.holdout.npz") as held:
        images = held["images"]
    shipped_reads = Model(default_model()).predict_proba(images).argmax(axis=1)
    np.savez(tmp_path / "mine.holdout.npz", images=images, labels=shipped_reads)
    result = run_cli("quantize", str(tmp_path / "mine.keras"), "--data-dir", str(mnist_dir), timeout=900)
    assert_one_line_error(result, "held-out samples right, fewer than the shipped digits_int8.tflite's 20")
    assert not (tmp_path / "mine_int8.tflite").exists() and (tmp_path / "mine_int8.rejected.json").exists()


def test_a_tuning_report_of_another_model_is_refused(tuned, tmp_path, mnist_dir):
    import shutil

    out, _ = tuned
    for name in ("mine.tune.json", "mine.holdout.npz"):
        shutil.copy(out / name, tmp_path / name)
    from digitlite.train.model import build_model

    build_model("digitnet", 11).save(tmp_path / "mine.keras")
    result = run_cli("quantize", str(tmp_path / "mine.keras"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "mine.tune.json describes another model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.holdout.npz", "mine.keras", "mine.tune.json"]


def _picture(path: Path, value: int = 0) -> None:
    img = np.full((60, 60), 255, np.uint8)
    img[10:50, 25 + value % 5:33 + value % 5] = 0
    Image.fromarray(img).save(path)


def _folder(root: Path, layout: dict[str, int]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, count in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            _picture(root / name / f"{k}.png", k)
    return root


@pytest.mark.parametrize("layout, fragments", [
    ({}, ["no samples in it"]),
    ({"unsorted": 3}, ["no samples in it", "3 wait in unsorted/"]),
    ({"1": 4}, ["samples of one class only (1/)"]),
    ({"1": 3, "Seven": 3}, ["Seven: a folder name that is not a label", "0-9 and not_a_digit"]),
    ({"1": 3, "7": 1}, ["7/ has 1 sample", "at least 2"]),
    ({"not_a_digit": 3, "unsorted": 1}, ["samples of one class only (not_a_digit/)"]),
])
def test_folders_that_cannot_be_tuned_on_are_one_line_and_write_nothing(layout, fragments, tmp_path):
    samples = _folder(tmp_path / "samples", layout)
    out = tmp_path / "out"
    result = run_cli("tune", str(samples), "--out", str(out))
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_no_such_folder_and_bad_options(tmp_path):
    assert_one_line_error(run_cli("tune", str(tmp_path / "nowhere")), "nowhere: no such folder")
    samples = _folder(tmp_path / "s", {"1": 2, "7": 2})
    assert_one_line_error(run_cli("tune", str(samples), "--holdout", "1"), "--holdout must be between 0 and 1")
    assert_one_line_error(run_cli("tune", str(samples), "--name", "../x"), "--name")


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path):
    from digitlite.train.samples import read_samples

    samples = _folder(tmp_path / "s", {"1": 2, "7": 2})
    (samples / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (samples / "7" / "notes.txt").write_text("my sevens")
    (samples / "7" / "tiny.input.png").write_bytes(b"")
    read = read_samples(samples)
    assert len(read.labels) == 4 and len(read.skipped) == 3
    assert any("broken.png" in s for s in read.skipped) and any("notes.txt: not an image" in s for s in read.skipped)


@pytest.mark.parametrize("make, fragments", [
    (lambda p: (p.with_suffix(".tflite").write_bytes(b"x"), p.with_suffix(".tflite"))[1],
     ["a .tflite model cannot be trained"]),
    (lambda p: (p.write_text("not a zip"), p)[1], ["not a Keras model"]),
    (lambda p: (_wrong_keras(p), p)[1], ["not a digitlite digit classifier", "expected 28x28x1 in and 10 or 11 out"]),
])
def test_a_model_that_is_not_a_digit_classifier_is_one_line(make, fragments, tmp_path, mnist_dir):
    samples = _folder(tmp_path / "s", {"1": 2, "7": 2})
    model = make(tmp_path / "m.keras")
    result = run_cli("tune", str(samples), "--model", str(model), "--out", str(tmp_path / "out"),
                     "--data-dir", str(mnist_dir))
    assert_one_line_error(result, *fragments)
    assert not any((tmp_path / "out").glob("*.keras")) if (tmp_path / "out").exists() else True


def _wrong_keras(path: Path) -> None:
    import keras

    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs))).save(path)


def test_an_interrupted_tuning_leaves_the_previous_model(style_samples, tmp_path, mnist_dir):
    folder, _, _ = style_samples
    previous = {"tuned.keras": b"the previous tuned model", "tuned.tune.json": b"{}", "tuned.holdout.npz": b"npz"}
    for name, data in previous.items():
        (tmp_path / name).write_bytes(data)
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "tune", str(folder), "--out", str(tmp_path),
                             "--data-dir", str(mnist_dir), "--epochs", "200", "--negatives", "0", "--font-digits", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    _wait_for(proc, "epoch   1/200")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: nothing written" in stderr and "Traceback" not in stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == previous


def test_the_benchmarks_style_is_seeded_and_misread_by_the_shipped_model(tmp_path):
    """benchmarks.tune's premise: its writer's style is drawn the same from a seed, and the shipped model
    misreads much of it (a slashed 0, a 2 written as a crossed Z, a 1 with a long flag)."""
    from digitlite.benchmarks.tune import accuracy, markdown, write_style

    a, b = write_style(tmp_path / "a", 4, seed=2), write_style(tmp_path / "b", 4, seed=2)
    assert all(x.read_bytes() == y.read_bytes() for (x, _), (y, _) in zip(a, b))
    assert accuracy(None, a)["accuracy"] < 0.9
    result = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "tune.json").read_text())
    table = markdown(result)
    assert "| one writer's style (rendered) |" in table and "what tuning must not cost" in table
    assert result["style"]["after"]["accuracy"] >= 0.98 and result["mnist_int8"]["drop_points"] <= 0.1


def test_the_same_samples_give_the_same_tuned_model(tuned, style_samples, tmp_path, mnist_dir):
    """Seeded before the model is built, with deterministic ops: a second run reports the very same figures."""
    folder, _, _ = style_samples
    _, first = tuned
    result = run_cli("tune", str(folder), "--out", str(tmp_path), "--name", "mine", "--data-dir", str(mnist_dir), *QUICK,
                     "--json", timeout=600)
    again = json.loads(result.stdout)
    assert again["after"] == first["after"] and again["temperature"] == first["temperature"]
    assert again["samples"]["sha256"] == first["samples"]["sha256"]
