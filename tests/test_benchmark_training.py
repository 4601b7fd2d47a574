"""The training benchmark: runs the real command, tabulates, and rewrites only the README's block."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import NPM

from digitlite.benchmarks import training


def test_training_benchmark_end_to_end_on_a_slice(tmp_path, mnist_dir):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{training.MARKERS[0]}\nold table\n{training.MARKERS[1]}\nafter\n")
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from digitlite.benchmarks import common, training; "
         f"common.README = Path({str(readme)!r}); sys.exit(training.main(sys.argv[1:]))",
         "--arch", "digitnet", "--arch", "baseline", "--out", str(tmp_path / "models"),
         "--results", str(tmp_path / "results"), "--update-readme",
         "--", "--train-samples", "400", "--val-size", "200", "--epochs", "1", "--negatives", "60", "--font-digits", "30",
         "--redrawn", "0.2", "--fonts-dir", str(NPM), "--data-dir", str(mnist_dir)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "results" / "training.json").read_text())
    assert [r["arch"] for r in data["runs"]] == ["digitnet", "baseline"]
    for run in data["runs"]:
        assert 0 < run["test_accuracy"] <= 1 and run["epochs_run"] == 1
        assert run["command_wall_seconds"] >= run["fit_seconds"] > 0
        assert run["command"].startswith(f"digitlite train --arch {run['arch']}")
    assert data["runs"][1]["macs_per_image"] == 2_472_892  # eleven classes: the last layer's 500 x 11
    assert (tmp_path / "models" / "digits.keras").is_file() and (tmp_path / "models" / "baseline.keras").is_file()
    assert (tmp_path / "models" / "report" / "metrics.json").is_file()
    assert (tmp_path / "models" / "report-baseline" / "metrics.json").is_file()
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# title\n\nbefore\n") and text.endswith("after\n")
    assert "| `baseline` |" in text and "| `digitnet` |" in text
    assert (tmp_path / "results" / "training.md").read_text().strip() in text


def test_failed_training_stops_the_benchmark(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "digitlite.benchmarks.training", "--arch", "digitnet", "--results", str(tmp_path),
         "--", "--data-dir", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "digitlite train --arch digitnet` failed" in result.stderr
    assert not (tmp_path / "training.json").exists()
