"""Atomic file writes: a temp file in the target folder, then a rename.

An interrupted run leaves the previous file intact, never a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success rename it onto ``target``.

    ``suffix`` is kept on the temp name for writers that check the extension
    (Keras refuses to save to a name that does not end in ``.keras``).  On any
    exception, KeyboardInterrupt included, the temp file is removed and the
    previous ``target`` is left as it was.
    """
    with _deferred(target, suffix) as tmp:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and prove a file can be written there (OSError if not).

    Long jobs call this first, so that a bad output folder fails in a second, not after
    the work is done.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / ".digitlite-write-test") as tmp:
        tmp.write_bytes(b"")
    (folder / ".digitlite-write-test").unlink()


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json(target: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    write_bytes(target, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_with(target: str | os.PathLike, writer: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)


def write_all(files: dict) -> None:
    """Write several files ``{path: bytes}`` as a set: every temp file first, then the renames.

    Running out of space (or any failure) while writing leaves every old file as it was; only
    the renames, which need no space, come after the last byte is written.  Used where two
    files must match, like a model and its card.
    """
    with contextlib.ExitStack() as stack:
        temps = {}
        for target, data in files.items():
            tmp = stack.enter_context(_deferred(target))
            tmp.write_bytes(data)
            temps[Path(target)] = tmp
        for target, tmp in temps.items():
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        for target, tmp in temps.items():
            os.replace(tmp, target)


@contextlib.contextmanager
def _deferred(target, suffix: str = "") -> Iterator[Path]:
    """A temp path beside ``target``, removed on the way out unless it was renamed away."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get the usual permissions
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
