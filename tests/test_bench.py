"""`digitlite bench`: arithmetic on known timings, every field on a tiny model, bad input. No speed asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from digitlite.benchmarks.bench import percentiles, throughput


def test_percentiles_on_known_timings():
    seconds = [i * 1e-6 for i in range(1, 101)]  # 1..100 microseconds
    p = percentiles(seconds)
    assert p["n"] == 100 and p["min_us"] == pytest.approx(1) and p["max_us"] == pytest.approx(100)
    assert p["mean_us"] == pytest.approx(50.5)
    assert p["p50_us"] == pytest.approx(50.5)  # linear interpolation between ranks 50 and 51
    assert p["p90_us"] == pytest.approx(90.1)
    assert p["p99_us"] == pytest.approx(99.01)
    assert p["std_us"] == pytest.approx(np.std(np.arange(1, 101)))
    assert percentiles([2e-6])["p99_us"] == pytest.approx(2)
    with pytest.raises(ValueError):
        percentiles([])


def test_throughput_arithmetic():
    assert throughput(64, 0.001) == pytest.approx(64_000)
    assert throughput(1, 20e-6) == pytest.approx(50_000)
    with pytest.raises(ValueError):
        throughput(8, 0)


def test_bench_end_to_end_on_a_tiny_model(quantized, tmp_path, mnist_dir):
    out, _ = quantized
    model = out / "digits_int8.tflite"
    card = json.loads((out / "digits_int8.json").read_text())
    result = run_cli("bench", str(model), str(out / "digits_float32.tflite"), "--runs", "30", "--min-seconds", "0",
                     "--threads", "1,2", "--batches", "1,4", "--json", str(tmp_path / "b.json"),
                     "--plot", str(tmp_path / "b.png"), "--markdown", "--data-dir", str(mnist_dir), timeout=900)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "b.json").read_text())
    rows = data["rows"]
    runtimes = {r["runtime"] for r in rows}
    assert "litert" in runtimes and "tensorflow" in runtimes
    assert len(rows) == 2 * len(runtimes) * 2  # models x runtimes x threads
    for r in rows:
        assert r["status"] == "passed"
        assert r["call"]["n"] >= 30 and 0 < r["call"]["min_us"] <= r["call"]["p50_us"] <= r["call"]["p99_us"]
        assert set(r["throughput"]) == {"1", "4"} and all(v > 0 for v in r["throughput"].values())
        assert r["end_to_end"]["p50_us"] > r["call"]["p50_us"]  # decoding and preprocessing cost something
        assert r["load_ms"] > 0 and r["size_bytes"] == (out / r["model"]).stat().st_size
        assert r["memory"]["peak_mb"] > r["memory"]["start_mb"] > 0
        assert r["memory"]["tensorflow_loaded"] == (r["runtime"] == "tensorflow")
    int8 = [r for r in rows if r["model"] == "digits_int8.tflite"]
    assert all(r["accuracy"] == pytest.approx(card["tflite_accuracy"]) for r in int8)  # same as the card's own run
    assert data["machine"]["cores"] >= 1 and "ai-edge-litert" in data["versions"]
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    assert result.stdout.startswith("| Model | Runtime | Threads | Status |")
    assert "✅" in result.stdout
    steps = 2 * len(runtimes) * 2 * 3
    assert "\r" not in result.stderr  # stderr is a pipe here, as in a log: one line a step, no redrawn bar
    bars = [line for line in result.stderr.splitlines() if line.startswith("benchmarking [")]
    assert len(bars) == steps and bars[-1].endswith(f"] {steps}/{steps}")


def test_a_broken_model_is_a_failed_row(tmp_path, quantized, mnist_dir):
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 100)
    result = run_cli("bench", str(tmp_path / "junk.tflite"), "--runs", "5", "--min-seconds", "0", "--threads", "1",
                     "--runtime", "litert", "--no-accuracy", "--no-memory", "--json", str(tmp_path / "b.json"),
                     "--data-dir", str(mnist_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    row = json.loads((tmp_path / "b.json").read_text())["rows"][0]
    assert row["status"] == "failed" and "not a valid TFLite model" in row["error"]
    assert "❌" in result.stdout


def test_missing_model_and_bad_options(tmp_path):
    assert_one_line_error(run_cli("bench", str(tmp_path / "none.tflite")), "none.tflite", "no such model file")
    bad = run_cli("bench", "--threads", "one")
    assert bad.returncode == 2 and "comma-separated whole numbers" in bad.stderr
