"""benchmarks.pi_emulation's own logic: the comparison that decides, the emulated command line, its errors.

The emulation itself (Debian arm64 under qemu-user, both interpreters) is run by .ci/run as
`python -m digitlite.benchmarks.pi_emulation`, which exits 1 on any disagreement with x86.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitlite.benchmarks import pi_emulation as pe

STEP = 1 / 256


def _side(preds, probs, classify=None, camera=None):
    return {"eval": {"predictions": preds, "probabilities": probs},
            "classify": classify or [{"path": "a/1.png", "digit": 1, "probabilities": [0.0, 1.0]}],
            "camera": camera or ["7", "7"]}


def test_identical_outputs_agree():
    side = _side([7, 2], [[0.0, 1.0], [1.0, 0.0]])
    assert pe.compare(side, side, STEP) == []


def test_one_output_step_apart_is_recorded_but_agrees():
    a = _side([1, 0], [[0.0, 1.0], [1.0, 0.0]])
    b = _side([1, 0], [[STEP, 1.0 - STEP], [1.0, 0.0]])
    assert pe.compare(a, b, STEP) == []
    assert pe.output_differences(a["eval"]["probabilities"], b["eval"]["probabilities"]) == \
        {"images": 1, "max_abs": STEP}


def test_every_kind_of_disagreement_is_reported():
    a = _side([1, 0], [[0.0, 1.0], [1.0, 0.0]])
    b = _side([1, 1], [[0.0, 1.0], [0.4, 0.6]],
              classify=[{"path": "a/1.png", "digit": 7, "probabilities": [0.0, 1.0]}], camera=["7", "1"])
    diffs = pe.compare(a, b, STEP)
    assert "eval: 1 of 2 predictions differ" in diffs
    assert any(d.startswith("eval: probabilities differ by up to 0.6000") for d in diffs)
    assert "classify: 1.png: 1 on x86, 7 on the Pi" in diffs
    assert any(d.startswith("camera:") for d in diffs)
    assert pe.compare(a, _side([1, 0], [[0.0, 1.0]]), STEP)  # a missing image is a difference too


def test_platform_tags_cover_bookworm_glibc():
    tags = pe.platform_tags("aarch64")
    assert "manylinux2014_aarch64" in tags and "manylinux_2_36_aarch64" in tags
    assert not [t for t in tags if not t.endswith("_aarch64")]


def test_pi_cpuinfo_describes_a_cortex_a72_per_core():
    text = pe.pi_cpuinfo(4)
    assert text.count("CPU part\t: 0xd08") == 4 and "processor\t: 3" in text and "Raspberry Pi 4" in text


def test_emulated_commands_run_under_qemu_with_a_pi_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.setattr(pe.shutil, "which", lambda name: f"/usr/bin/{name}")
    side = pe.Side("aarch64", tmp_path / "site", tmp_path / "root", tmp_path / "cpuinfo")
    cmd = side.command(["eval", "m.tflite"])
    assert cmd[:2] == ["/usr/bin/unshare", "--mount"] and "mount --bind" in cmd[cmd.index("-c") + 1]
    assert str(tmp_path / "cpuinfo") in cmd and "/usr/bin/qemu-aarch64-static" in cmd
    assert cmd[-5:] == ["-S", "-m", "digitlite", "eval", "m.tflite"]
    env = side.env("/data")
    assert env["QEMU_CPU"] == "cortex-a72" and env["PYTHONPATH"] == str(tmp_path / "site")
    assert env["DIGITLITE_DATA"] == "/data"
    host = pe.Side("x86_64", tmp_path / "site").command(["info"])
    assert host[0] == sys.executable and "unshare" not in " ".join(host)


def test_missing_tools_are_one_line_errors(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with python and nothing else
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    result = subprocess.run([sys.executable, "-m", "digitlite.benchmarks.pi_emulation", "--work", str(tmp_path / "w")],
                            capture_output=True, text=True, env={**os.environ, "PATH": str(bin_dir)},
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "pi_emulation: error: qemu-aarch64-static not found: sudo apt-get install qemu-user-static"


def test_the_emulated_pi_gets_debians_numpy_version(tmp_path):
    site = tmp_path / "usr/lib/python3/dist-packages"
    site.mkdir(parents=True)
    with pytest.raises(pe.DigitliteError, match="python3-numpy's metadata not found"):
        pe.debian_numpy(tmp_path)
    (site / "numpy-1.24.2.egg-info").mkdir()
    assert pe.debian_numpy(tmp_path) == "1.24.2"
    assert pe.pi_constraints("1.24.2") == ["numpy==1.24.2", "numpy<2", "opencv-python-headless<4.11"]
