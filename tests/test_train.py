"""`digitlite train` on small slices: every artifact, interruption, reproducibility, bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import NPM, assert_one_line_error, default_signals, run_cli

from digitlite.train.report import PLOTS, misclassified_title

QUICK = ["--train-samples", "1500", "--val-size", "500", "--epochs", "2", "--batch-size", "64", "--negatives", "200",
         "--redrawn", "0.3", "--font-digits", "100", "--fonts-dir", str(NPM)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """One quick training run shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("run")
    result = run_cli("train", *QUICK, "--out", str(out), "--json", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout), result


def test_training_writes_every_artifact(trained):
    out, summary, result = trained
    assert (out / "digits.keras").is_file()
    for name in PLOTS:
        assert (out / "report" / name).stat().st_size > 5000, name  # a real picture, not an empty file
        assert (out / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.rglob(".*tmp*")], "temp files left behind"
    assert summary["epochs_run"] == 2 and summary["interrupted"] is False
    assert "epoch   1/2" in result.stderr and "epoch   2/2" in result.stderr  # progress per epoch


def test_the_eleventh_class_is_trained_and_the_confidence_calibrated(trained):
    import keras

    out, summary, _ = trained
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["classes"] == 11 and metrics["negatives"] == {"train": 200, "validation": 20}
    assert metrics["temperature"] > 0 and metrics["temperature"] != 1.0
    assert 0 <= metrics["test_calibration"]["ece"] <= 1
    assert sum(b["answers"] for b in metrics["test_calibration"]["bins"]) == 10000
    assert {"digit_accuracy", "rejected", "ece"} <= set(metrics["validation"])
    assert metrics["test"]["confusion_matrix"] and len(metrics["test"]["confusion_matrix"]) == 11
    model = keras.models.load_model(out / "digits.keras")
    assert model.output_shape == (None, 11)


def test_the_misclassified_grid_says_how_many_it_shows():
    assert misclassified_title(37, 10000, 37) == "misclassified: 37 of 10,000 test digits (true→predicted)"
    assert misclassified_title(120, 10000, 48) == \
        "misclassified: 120 of 10,000 test digits (true→predicted); the first 48 shown"


def test_the_feature_map_plot_says_which_channels_it_shows(tmp_path, monkeypatch):
    import keras

    from digitlite.train import report

    titles = []
    real_save = report._save

    def save(fig, path):
        titles.extend(t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title) if t.get_text())
        titles.append(fig._suptitle.get_text())
        real_save(fig, path)

    monkeypatch.setattr(report, "_save", save)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.Conv2D(20, 3, activation="relu")])
    report.plot_feature_maps(model, np.zeros((28, 28), np.uint8), tmp_path / "f.png", max_maps=16)
    assert any(t.endswith("26x26x8") for t in titles)  # all 8 shown: nothing to say
    assert any(t.endswith("24x24x20 (first 16 of 20 channels)") for t in titles)
    assert "up to 16 channels a layer" in titles[-1]


def test_metrics_json_describes_the_saved_model(trained):
    out, summary, _ = trained
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    import hashlib

    assert metrics["model_sha256"] == hashlib.sha256((out / "digits.keras").read_bytes()).hexdigest()
    test = metrics["test"]
    assert test["samples"] == 10000
    cm = np.array(test["confusion_matrix"])
    assert cm.shape == (11, 11) and cm.sum() == 10000 and not cm[10].any()  # no test digit is "not a digit"
    assert np.trace(cm) / 10000 == pytest.approx(metrics["test_accuracy"])
    assert [row["support"] for row in test["per_class"]] == cm.sum(axis=1).tolist()
    assert len(metrics["history"]["loss"]) == len(metrics["history"]["val_accuracy"]) == 2
    for key in ("parameters", "macs_per_image", "wall_time_seconds", "epochs_run", "versions", "config"):
        assert key in metrics
    assert metrics["test_accuracy"] == summary["test_accuracy"]
    assert metrics["test_accuracy"] > 0.5  # 1,500 images, 2 epochs: well above chance (10%)


def test_eval_command_agrees_with_the_training_report(trained, mnist_dir):
    out, summary, _ = trained
    result = run_cli("eval", str(out / "digits.keras"), "--json", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-4)
    assert report["loss"] == pytest.approx(summary["test_loss"], rel=1e-3)
    human = run_cli("eval", str(out / "digits.keras"), "--samples", "1000", "--data-dir", str(mnist_dir))
    assert human.returncode == 0 and "1000 MNIST test images" in human.stdout and "macro" in human.stdout


def test_same_seed_same_model(mnist_dir, tmp_path):
    from digitlite.train.config import TrainConfig
    from digitlite.train.train import train

    def run(out):
        cfg = TrainConfig(train_samples=600, val_size=300, epochs=1, batch_size=64, out=str(tmp_path / out),
                          data_dir=str(mnist_dir), negatives=200, redrawn=0.3, font_digits=100, fonts_dir=str(NPM))
        return train(cfg, log=open(os.devnull, "w"))

    a, b = run("a"), run("b")
    assert a["history"] == b["history"]
    assert a["test_accuracy"] == b["test_accuracy"]


def _start_training(out: Path, mnist_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "digitlite", "train", "--out", str(out), "--data-dir", str(mnist_dir),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)


def _wait_for(proc: subprocess.Popen, marker: str, timeout: float = 120) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return seen
    proc.kill()
    pytest.fail(f"never saw {marker!r}; stderr so far: {''.join(seen)}")


def test_ctrl_c_keeps_the_best_model_so_far(tmp_path, mnist_dir):
    proc = _start_training(tmp_path, mnist_dir, "--train-samples", "2000", "--val-size", "500",
                           "--epochs", "500", "--batch-size", "64", "--negatives", "200", "--redrawn", "0",
                           "--font-digits", "0")
    _wait_for(proc, "epoch   2/500")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: keeping the best weights" in stderr and "Traceback" not in stderr
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 2 <= metrics["epochs_run"] < 500
    import keras

    model = keras.models.load_model(tmp_path / "digits.keras")
    assert model.output_shape == (None, 11)


def test_interrupt_before_the_first_epoch_leaves_the_previous_model(tmp_path, mnist_dir):
    previous = b"the previous model, which must survive"
    (tmp_path / "digits.keras").write_bytes(previous)
    proc = _start_training(tmp_path, mnist_dir, "--epochs", "3", "--negatives", "200", "--redrawn", "0",
                           "--font-digits", "0")  # a full epoch of 55,000 images: many seconds
    _wait_for(proc, "training digitnet")
    proc.send_signal(signal.SIGTERM)  # a killed job is treated like Ctrl-C
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "nothing saved" in stderr and "Traceback" not in stderr
    assert (tmp_path / "digits.keras").read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.keras"]


@pytest.mark.parametrize("args, fragments", [
    (["--epochs", "0"], ["--epochs must be at least 1"]),
    (["--arch", "resnet"], ["--arch 'resnet' is unknown", "digitnet, baseline"]),
    (["--val-size", "60000"], ["--val-size"]),
])
def test_bad_options_are_one_line_errors(args, fragments, tmp_path, mnist_dir):
    result = run_cli("train", *args, "--out", str(tmp_path), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_missing_data_is_a_one_line_error(tmp_path):
    result = run_cli("train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "nowhere", "no such folder")
    assert not (tmp_path / "out").exists()


def test_unknown_option_is_refused_by_name(tmp_path):
    result = run_cli("train", "--epoch", "3x")
    assert result.returncode == 2 and "--epoch" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_output_folder_fails_before_training(tmp_path, mnist_dir):
    (tmp_path / "file").write_text("a file where the output folder should be")
    result = run_cli("train", "--out", str(tmp_path / "file" / "models"), "--data-dir", str(mnist_dir))
    assert_one_line_error(result, "output folder cannot be written")
    assert "epoch" not in result.stderr  # refused before any training
