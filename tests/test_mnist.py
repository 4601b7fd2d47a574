"""The MNIST reader: IDX parsing, checksums, folder resolution, downloads, and every bad-data case."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, idx_bytes, run_cli, write_idx

from digitlite.edge.data import mnist as M
from digitlite.edge.util.errors import DataError

pytestmark = pytest.mark.edge  # numpy and Pillow only: also run where only tflite-runtime is installed

NAMES = list(M.SHA256)


def test_parse_idx_round_trip_images_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    np.testing.assert_array_equal(M.read_idx(write_idx(tmp_path / "i.gz", images)), images)
    np.testing.assert_array_equal(M.read_idx(write_idx(tmp_path / "l", labels, compress=False)), labels)


def test_read_idx_checks_expected_shape(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 27), np.uint8))
    with pytest.raises(DataError, match=r"x\.gz: shape \(3, 28, 27\), expected \(3, 28, 28\)"):
        M.read_idx(path, shape=(3, 28, 28))


@pytest.mark.parametrize("raw, message", [
    (b"", "too short"),
    (b"\x08\x03\x00\x00" + bytes(12), "wrong magic number"),
    (b"\x00\x00\x0d\x01" + bytes(4), "wrong magic number"),  # float IDX: not what MNIST is
    (b"\x00\x00\x08\x03\x00\x00", "header cut short"),
])
def test_parse_idx_rejects_bad_headers(raw, message):
    with pytest.raises(DataError, match=message):
        M.parse_idx(raw, "f.idx")


def test_truncated_payload_is_named(tmp_path):
    data = idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-100]
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(DataError, match=r"cut\.gz: payload .* truncated or corrupt"):
        M.read_idx(path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    full = gzip.compress(idx_bytes(np.ones((50, 28, 28), np.uint8)))
    path = tmp_path / "half.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"half\.gz: not a complete gzip file"):
        M.read_idx(path)


def test_garbage_gz_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="not a complete gzip file"):
        M.read_idx(path)


def _fake_mnist_folder(folder: Path) -> Path:
    """Small, well-formed IDX files under the MNIST names: right format, wrong content."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        shape = (5, 28, 28) if "images" in name else (5,)
        write_idx(folder / f"{name}.gz", np.zeros(shape, np.uint8))
    return folder


def test_checksum_mismatch_is_refused(tmp_path):
    folder = _fake_mnist_folder(tmp_path / "fake")
    with pytest.raises(DataError, match="SHA-256 .* does not match"):
        M.load_mnist(folder)


def test_missing_folder_and_missing_file_name_what_to_do(tmp_path, mnist_dir):
    with pytest.raises(DataError, match=r"nope \(from --data-dir\): no such folder"):
        M.load_mnist(tmp_path / "nope")
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in NAMES[:3]:
        shutil.copy(mnist_dir / f"{name}.gz", partial)
    with pytest.raises(DataError, match=rf"{NAMES[3]}\.gz \(from --data-dir\): missing; copy"):
        M.load_mnist(partial)


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(M.ENV_VAR, raising=False)
    assert M.resolve_data_dir() == (tmp_path / "cache" / "digitlite" / "mnist", "cache")
    monkeypatch.setenv(M.ENV_VAR, str(tmp_path / "env"))
    assert M.resolve_data_dir() == (tmp_path / "env", M.ENV_VAR)
    assert M.resolve_data_dir(tmp_path / "flag") == (tmp_path / "flag", "--data-dir")


def test_env_folder_is_used_and_never_downloaded_into(tmp_path, monkeypatch):
    monkeypatch.setenv(M.ENV_VAR, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="unset DIGITLITE_DATA to download"):
        M.load_mnist()
    assert list((tmp_path / "empty").iterdir()) == []


def test_real_mnist_loads_with_expected_shapes_and_balance(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_labels.shape == (60000,) and mnist.test_labels.shape == (10000,)
    counts = np.bincount(mnist.test_labels, minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # published test split


def test_uncompressed_files_are_accepted(tmp_path, mnist_dir):
    for name in NAMES:
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    data = M.load_mnist(tmp_path)
    assert data.test_images.shape == (10000, 28, 28)


# --- downloads, from a mirror served on loopback -------------------------------------------------

@pytest.fixture
def mirror(tmp_path, mnist_dir):
    """Two local 'mirrors': /bad/ serves corrupt files, /good/ the real ones; counts requests."""
    root = tmp_path / "www"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    for name in NAMES:
        shutil.copy(mnist_dir / f"{name}.gz", root / "good")
        (root / "bad" / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, requests
    server.shutdown()
    server.server_close()


def test_download_falls_back_to_the_next_mirror_and_verifies(tmp_path, mirror):
    base, requests = mirror
    dest = tmp_path / "dl"
    path = M.download("t10k-labels-idx1-ubyte", dest, mirrors=(f"{base}/missing/", f"{base}/bad/", f"{base}/good/"))
    assert path == dest / "t10k-labels-idx1-ubyte.gz"
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == M.SHA256["t10k-labels-idx1-ubyte"]
    assert [p for p in dest.iterdir()] == [path]  # no temp file left behind
    assert len(requests) == 3


def test_download_failing_everywhere_leaves_nothing(tmp_path, mirror):
    base, _ = mirror
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match=r"could not download t10k-images-idx3-ubyte\.gz .*checksum mismatch"):
        M.download("t10k-images-idx3-ubyte", dest, mirrors=(f"{base}/bad/",))
    assert not dest.exists() or list(dest.iterdir()) == []


@pytest.fixture
def cache_mirror(tmp_path, mirror, monkeypatch):
    """No DIGITLITE_DATA, an empty cache, and the good local mirror as the only one: its request log."""
    base, requests = mirror
    monkeypatch.delenv(M.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(M, "MIRRORS", (f"{base}/good/",))
    monkeypatch.setattr(M.download, "__defaults__", (M.MIRRORS, 30.0))
    return requests


def test_cache_is_filled_by_download_then_reused(cache_mirror):
    requests = cache_mirror
    data = M.load_mnist()
    assert data.train_images.shape == (60000, 28, 28)
    assert len(requests) == 4
    M.load_mnist()
    assert len(requests) == 4  # second load: from the cache, no request


def test_evaluation_downloads_and_needs_only_the_test_files(cache_mirror):
    requests = cache_mirror
    data = M.load_mnist(test_only=True)
    assert data.test_images.shape == (10000, 28, 28) and data.train_images.shape == (0, 28, 28)
    assert sorted(requests) == ["/good/t10k-images-idx3-ubyte.gz", "/good/t10k-labels-idx1-ubyte.gz"]


def test_eval_with_only_the_two_test_files(tmp_path, mnist_dir):
    """On a Pi: copy the test files alone (1.6 MB instead of 11 MB) and evaluate."""
    from conftest import REPO

    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(mnist_dir / f"{name}.gz", tmp_path)
    model = str(REPO / "edge" / "models" / "digits_int8.tflite")
    result = run_cli("eval", model, "--data-dir", str(tmp_path), "--samples", "200", "--json",
                     env={"XDG_CACHE_HOME": str(tmp_path / "no-cache")})
    assert result.returncode == 0, result.stderr
    import json

    assert json.loads(result.stdout)["samples"] == 200
    default = run_cli("eval", "--data-dir", str(tmp_path), "--samples", "200", "--json")  # the shipped model
    assert default.returncode == 0 and json.loads(default.stdout) == {**json.loads(result.stdout),
                                                                      "model": str(model)}
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert_one_line_error(run_cli("eval", model, "--data-dir", str(tmp_path)),
                          "t10k-labels-idx1-ubyte.gz", "missing; copy the two MNIST test files "
                          "(t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz) there")


def test_unwritable_cache_is_a_clear_error(tmp_path, mirror):
    # A regular file where the cache folder should be: not writable, even for root.
    base, _ = mirror
    (tmp_path / "cache").write_text("a file, not a folder")
    with pytest.raises(DataError, match="cannot write the download"):
        M.download("t10k-labels-idx1-ubyte", tmp_path / "cache" / "mnist", mirrors=(f"{base}/good/",))
    assert (tmp_path / "cache").read_text() == "a file, not a folder"


def test_cli_names_a_missing_model_in_one_line(tmp_path):
    result = run_cli("eval", str(tmp_path / "model.keras"), "--data-dir", str(tmp_path))
    assert_one_line_error(result, "model.keras", "no such model file")
