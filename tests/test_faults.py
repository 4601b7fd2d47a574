"""Faults while writing: quantization interrupted or killed mid-run, a disk that fills up.

Whatever happens, the previous artifacts stay byte for byte and loadable, and no temp file
is left beside them (SIGKILL cannot be cleaned up after: it may leave a hidden temp file,
never a damaged artifact).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error, default_signals, run_cli

from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.util import atomic


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def previous(tiny_model, tmp_path_factory, mnist_dir):
    """A quantized model and its card, as a finished earlier run left them."""
    out = tmp_path_factory.mktemp("previous")
    result = run_cli("quantize", str(tiny_model), "--out", str(out), "--max-drop", "5",
                     "--calibration-samples", "200", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    return out


def _quantize_until(tiny_model, out, mnist_dir, trigger: str, sig: int) -> tuple[int, str]:
    """Start `digitlite quantize`, send ``sig`` once ``trigger`` shows on stderr, return (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "quantize", str(tiny_model), "--out", str(out),
                             "--max-drop", "5", "--calibration-samples", "200", "--data-dir", str(mnist_dir)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            preexec_fn=default_signals)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if trigger in line:
            proc.send_signal(sig)
            break
    rest = proc.communicate(timeout=120)[1]
    return proc.returncode, "".join(seen) + rest


@pytest.mark.parametrize("trigger", ["evaluating the float model", "converting: int8"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_quantization_stopped_mid_run_keeps_the_previous_model(previous, tiny_model, mnist_dir, tmp_path, trigger, sig):
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _snapshot(out)
    code, stderr = _quantize_until(tiny_model, out, mnist_dir, trigger, sig)
    assert trigger in stderr
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert {k: v for k, v in _snapshot(out).items() if not k.split("/")[-1].startswith(".")} == before
    else:
        assert code == 130 and "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1] == "digitlite: interrupted"
        assert _snapshot(out) == before  # nothing new, nothing half-written, no temp file
    Model(out / "digits_int8.tflite").predict_proba(__import__("numpy").zeros((1, 28, 28), "uint8"))


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_while_quantizing_keeps_the_previous_model(previous, tiny_model, mnist_dir, tmp_path):
    """The output folder on a tmpfs that holds the previous model and its twin with 32 KB to spare: the new
    one (over 100 KB) cannot fit.

    The tmpfs is mounted in a private mount namespace (unshare), so it vanishes with the command;
    what the folder holds afterwards is listed from inside.
    """
    out = tmp_path / "out"
    out.mkdir()
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    # whole 4 KB pages per file, as tmpfs counts them
    room = sum(-(-p.stat().st_size // 4096) * 4 for p in previous.iterdir()) + 32
    script = (f'mount -t tmpfs -o size={room}k tmpfs "$1" && cp "$2"/* "$1"/ && '
              '"$3" -m digitlite quantize "$4" --out "$1" --max-drop 5 --calibration-samples 200 --data-dir "$5"; '
              'code=$?; cd "$1" && ls -A && sha256sum * && exit $code')
    result = subprocess.run([*unshare, "sh", "-c", script, "sh", str(out), str(previous), sys.executable,
                             str(tiny_model), str(mnist_dir)], capture_output=True, text=True, timeout=300)
    assert_one_line_error(result, "No space left on device")
    listing, sums = result.stdout.split("\n", len(list(previous.iterdir())))[:-1], result.stdout
    assert sorted(listing) == sorted(p.name for p in previous.iterdir())  # no temp file left
    for p in previous.iterdir():
        assert f"{__import__('hashlib').sha256(p.read_bytes()).hexdigest()}  {p.name}" in sums


def test_disk_full_while_exporting_keeps_the_previous_bundle(tmp_path):
    out = tmp_path / "bundle"
    assert run_cli("export", str(out)).returncode == 0
    before = _snapshot(out)
    result = subprocess.run([sys.executable, "-m", "digitlite", "export", str(out), "--force"], capture_output=True,
                            text=True, preexec_fn=_limit_file_size(30_000), timeout=120)
    assert_one_line_error(result, "cannot write the bundle", "File too large")
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


class _FailingFile:
    """Stands in for a file on a full disk: the first write past ``room`` bytes fails."""

    def __init__(self, path, room):
        self.f, self.room = open(path, "wb"), room

    def write(self, data):
        if self.f.tell() + len(data) > self.room:
            self.f.write(data[: max(0, self.room - self.f.tell())])
            raise OSError(28, "No space left on device")
        return self.f.write(data)

    def close(self):
        self.f.close()


@pytest.mark.parametrize("room", [0, 10, 1000])
def test_an_atomic_write_that_runs_out_of_space_leaves_the_old_file(tmp_path, room):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old model" * 100)

    def writer(tmp):
        f = _FailingFile(tmp, room)
        try:
            f.write(b"new model" * 1000)
        finally:
            f.close()

    with pytest.raises(OSError, match="No space left"):
        atomic.write_with(target, writer)
    assert target.read_bytes() == b"old model" * 100
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_a_set_of_files_is_written_whole_or_not_at_all(tmp_path):
    model, card = tmp_path / "m.tflite", tmp_path / "m.json"
    model.write_bytes(b"old model")
    card.write_bytes(b"old card")
    real = Path.write_bytes

    def full_disk_on_the_card(self, data):
        if self.name.startswith(".m.json."):
            raise OSError(28, "No space left on device")
        return real(self, data)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "write_bytes", full_disk_on_the_card)
        with pytest.raises(OSError, match="No space left"):
            atomic.write_all({model: b"new model", card: b"new card"})
    assert (model.read_bytes(), card.read_bytes()) == (b"old model", b"old card")  # not a new model with an old card
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.tflite"]
    atomic.write_all({model: b"new model", card: b"new card"})
    assert (model.read_bytes(), card.read_bytes()) == (b"new model", b"new card")


def test_a_full_temp_folder_during_conversion_is_named(previous, tiny_model, mnist_dir, tmp_path):
    """TensorFlow writes the model to the temp folder while converting; a 64 KB TMPDIR cannot hold it."""
    out, small = tmp_path / "out", tmp_path / "tmp"
    shutil.copytree(previous, out)
    small.mkdir()
    before = _snapshot(out)
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    script = ('mount -t tmpfs -o size=64k tmpfs "$1" && TMPDIR="$1" exec "$2" -m digitlite quantize "$3" --out "$4" '
              '--max-drop 5 --calibration-samples 200 --data-dir "$5"')
    result = subprocess.run([*unshare, "sh", "-c", script, "sh", str(small), sys.executable, str(tiny_model),
                             str(out), str(mnist_dir)], capture_output=True, text=True, timeout=300)
    assert_one_line_error(result, "TFLite conversion (int8) failed", f"free in {small}", "set TMPDIR")
    assert _snapshot(out) == before
