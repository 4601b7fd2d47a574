"""Shared fixtures: the real MNIST folder, IDX writers, and running the CLI in a subprocess."""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NPM = REPO / ".npm"  # tests/prepare.sh puts the verified npm tarballs here: LiteRT.js and the handwriting fonts


def prepared(name: str) -> Path:
    """A folder that tests/prepare.sh makes (.venv-tflite, .wheels): tests never install from the network."""
    path = REPO / name
    if not path.is_dir():
        pytest.fail(f"{name} is missing: run `bash tests/prepare.sh` once (it needs the package registry)",
                    pytrace=False)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000 08 ndim, big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``compress``."""
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The verified MNIST folder: $DIGITLITE_DATA, else ../shared/mnist beside the repo, else the
    user cache (downloaded there on first use, as `digitlite` itself does).

    The tests need the real data set; without it they fail with the reason (they are not skipped).
    """
    candidates = [os.environ.get("DIGITLITE_DATA"), str(REPO.parent / "shared" / "mnist")]
    for c in candidates:
        if c and (Path(c) / "t10k-images-idx3-ubyte.gz").is_file():
            return Path(c)
    from digitlite.edge.data.mnist import cache_dir, load_mnist
    from digitlite.edge.util.errors import DataError

    try:
        load_mnist()  # resolves to the cache when DIGITLITE_DATA is unset, and downloads there
    except DataError as e:
        pytest.fail(f"MNIST not found ({e}); set DIGITLITE_DATA to the folder with the four MNIST .gz files")
    return cache_dir()


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The loaded, verified MNIST arrays."""
    from digitlite.edge.data.mnist import load_mnist

    return load_mnist(mnist_dir)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """Run ``python -m digitlite ARGS`` and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "digitlite", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


def default_signals() -> None:
    """``preexec_fn`` for a command that a test interrupts: the signal handlers a terminal gives.

    A test runner started in the background by a shell inherits SIGINT ignored, and so would
    the command under test, which then rightly ignores Ctrl-C.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit, no traceback, and one error line (the last on stderr) naming each fragment.

    Progress lines may come before it; nothing else may look like an error.
    """
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert errors[0].startswith("digitlite: error: "), errors[0]
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, mnist_dir):
    """A ten-class model trained for seconds on a slice: good enough to quantize, fast to make (the
    eleven-class training has its own tests, in test_train.py)."""
    out = tmp_path_factory.mktemp("tiny")
    result = run_cli("train", "--train-samples", "2000", "--val-size", "500", "--epochs", "2",
                     "--batch-size", "64", "--negatives", "0", "--redrawn", "0", "--font-digits", "0", "--out", str(out),
                     "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    return out / "digits.keras"


@pytest.fixture(scope="session")
def quantized(tiny_model, tmp_path_factory, mnist_dir):
    """All four variants of the tiny model, quantized with a loose gate."""
    out = tmp_path_factory.mktemp("q")
    result = run_cli("quantize", str(tiny_model), "--variant", "all", "--out", str(out), "--max-drop", "5",
                     "--calibration-samples", "200", "--data-dir", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    return out, result


# --- a real browser: Debian's Chromium driven by Playwright (its own browser download does not work here) ---
# The drawing helpers are the web benchmark's own (benchmarks/web.py): one way to draw on either page.

from digitlite.benchmarks.web import (  # noqa: E402, F401
    CHROMIUM,
    CHROMIUM_ARGS,
    DRAWN,
    draw_digit,
    static_server,
)


@contextlib.contextmanager
def chromium_page(viewport=(420, 900)):
    """A fresh headless Chromium page; the browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (.ci/run installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        finally:
            browser.close()
