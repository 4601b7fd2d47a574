"""MNIST from the four standard IDX files, with numpy only (so a Pi can evaluate a model).

Where the files come from, in order: an explicit ``data_dir`` (``--data-dir``), the
``DIGITLITE_DATA`` environment variable, then a user cache folder
(``$XDG_CACHE_HOME/digitlite/mnist``, default ``~/.cache/digitlite/mnist``).  Only the cache
folder is filled by downloading; a folder the user names must already hold the files.
Every file is checked against the SHA-256 of its decompressed content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlite.edge.util import atomic
from digitlite.edge.util.cache import user_cache
from digitlite.edge.util.errors import DataError

# SHA-256 of each decompressed file, as published for the original MNIST files.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
ENV_VAR = "DIGITLITE_DATA"
_IDX_DTYPES = {0x08: np.uint8}


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays: uint8 images (N, 28, 28) and uint8 labels (N,); N is 0 for the training
    arrays of a test-only load."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def cache_dir() -> Path:
    """The user cache folder where downloaded MNIST files are kept."""
    return user_cache("mnist")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Return the folder to read MNIST from and where that choice came from.

    The second item is ``"--data-dir"``, ``"DIGITLITE_DATA"`` or ``"cache"``.
    """
    if data_dir:
        return Path(data_dir).expanduser(), "--data-dir"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser(), ENV_VAR
    return cache_dir(), "cache"


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into a numpy array.

    Raises DataError naming ``name`` when the magic number, the header or the
    payload length is wrong.
    """
    if len(raw) < 4:
        raise DataError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = raw[0] | raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise DataError(f"{name}: wrong magic number 0x{raw[:4].hex()} (not an unsigned-byte IDX file)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: header cut short ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        raise DataError(
            f"{name}: payload is {len(raw) - header} bytes but the header {shape} needs "
            f"{expected - header}: the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=_IDX_DTYPES[dtype_code], offset=header).reshape(shape)


def _decompressed_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: not a complete gzip file ({e}); delete it and fetch it again") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def read_idx(path: str | os.PathLike, sha256: str | None = None, shape: tuple | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or uncompressed) and check its checksum and shape."""
    path = Path(path)
    raw = _decompressed_bytes(path)
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise DataError(
            f"{path}: SHA-256 of the decompressed content does not match the published MNIST file; "
            "replace it with a verified copy"
        )
    arr = parse_idx(raw, str(path))
    if shape is not None and arr.shape != tuple(shape):
        raise DataError(f"{path}: shape {arr.shape}, expected {tuple(shape)}")
    return arr


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def download(name: str, folder: Path, mirrors=MIRRORS, timeout: float = 30.0) -> Path:
    """Download ``name.gz`` into ``folder`` from the first mirror that gives a verified copy.

    The file goes to a temp name first and is renamed into place only after its
    checksum matches, so a failed or interrupted download never leaves a bad file.
    """
    target = folder / f"{name}.gz"
    errors = []
    for mirror in mirrors:
        url = mirror + f"{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = response.read()
        except (OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        try:
            digest = hashlib.sha256(gzip.decompress(payload)).hexdigest()
        except (EOFError, gzip.BadGzipFile, zlib.error):
            errors.append(f"{url}: not a complete gzip file")
            continue
        if digest != SHA256[name]:
            errors.append(f"{url}: checksum mismatch")
            continue
        try:
            atomic.write_bytes(target, payload)
        except OSError as e:
            raise DataError(f"{folder}: cannot write the download ({e.strerror or e}); set {ENV_VAR} "
                            "to a folder holding the MNIST files") from None
        return target
    raise DataError(
        f"could not download {name}.gz ({'; '.join(errors)}); offline, copy {_wanted(name)} into a "
        f"folder and point {ENV_VAR} or --data-dir at it"
    )


def _wanted(name: str) -> str:
    """Which MNIST files to copy, for a message: the two test files, or (for a training file) all four."""
    tests = "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
    return f"the two MNIST test files ({tests})" if name.startswith("t10k") else "the four MNIST .gz files"


def load_mnist(data_dir: str | os.PathLike | None = None, allow_download: bool = True,
               test_only: bool = False) -> Mnist:
    """Load and verify the MNIST training and test sets (``test_only``: the test set alone, the
    training arrays left empty; evaluation needs nothing else).

    ``data_dir`` overrides ``DIGITLITE_DATA``, which overrides the cache folder.
    Files missing from the cache folder are downloaded when ``allow_download`` is true.
    """
    folder, origin = resolve_data_dir(data_dir)
    if origin != "cache" and not folder.is_dir():
        raise DataError(f"{folder} (from {origin}): no such folder; point it at the folder holding the MNIST .gz files")
    needed = [n for n in SHA256 if not (test_only and n.startswith("train"))]
    arrays = {name: np.zeros((0, *SHAPES[name][1:]), np.uint8) for name in SHA256}
    for name in needed:
        digest = SHA256[name]
        path = _find(folder, name)
        if path is None:
            if origin != "cache" or not allow_download:
                what = _wanted(name)
                raise DataError(
                    f"{folder / (name + '.gz')} (from {origin}): missing; copy {what} there"
                    + (f" or unset {ENV_VAR} to download them into {cache_dir()}" if origin == ENV_VAR else "")
                )
            path = download(name, folder)
        arrays[name] = read_idx(path, sha256=digest, shape=SHAPES[name])
    return Mnist(
        train_images=arrays["train-images-idx3-ubyte"],
        train_labels=arrays["train-labels-idx1-ubyte"],
        test_images=arrays["t10k-images-idx3-ubyte"],
        test_labels=arrays["t10k-labels-idx1-ubyte"],
    )
