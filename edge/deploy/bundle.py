"""What every export shares: its folder written whole or not at all, the manifest with its
SHA256SUMS, the model checked with its card, and the package's version."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from digitlite.edge import __version__
from digitlite.edge.runtime.card import ModelCard, card_path
from digitlite.edge.runtime.interpreter import check_tflite_bytes
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError


def package_version() -> str:
    """digitlite's version (``digitlite.edge.__version__``, the one place it is written)."""
    return __version__


def model_with_card(model: Path) -> tuple[Path, ModelCard]:
    """The model file checked as TFLite, and its card (which must be beside it)."""
    if not model.is_file():
        raise DigitliteError(f"{model}: no such model file")
    problem = check_tflite_bytes(model.read_bytes())
    if problem:
        raise DigitliteError(f"{model}: not a valid TFLite model ({problem})")
    return card_path(model), ModelCard.of(model)


def check_out(out: Path, force: bool) -> None:
    """An output folder must be a folder, and empty unless ``force``."""
    if out.exists() and not out.is_dir():
        raise DigitliteError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DigitliteError(f"{out}: folder is not empty (use --force to replace it)")


def prepare_out(out: Path, force: bool) -> Path:
    """Check ``out`` and make the temp folder beside it that an export is written into."""
    check_out(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise DigitliteError(f"{out}: cannot write here ({e.strerror or e})") from None


@contextlib.contextmanager
def export_folder(out: Path, force: bool, what: str) -> Iterator[Path]:
    """The temp folder beside ``out`` to write an export into: it replaces ``out`` when the block
    ends, and is removed if the block fails (a full disk is one line naming ``what``)."""
    tmp = prepare_out(out, force)
    try:
        yield tmp
        replace_out(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DigitliteError(f"{out}: cannot write the {what} ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_manifest(folder: Path, manifest: dict) -> None:
    """``bundle.json`` (the manifest, whose "files" it lists) and ``SHA256SUMS`` of those files and itself."""
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sums = "".join(f"{sha256_file(folder / f)}  {f}\n" for f in [*manifest["files"], "bundle.json"])
    (folder / "SHA256SUMS").write_text(sums)


def replace_out(tmp: Path, out: Path) -> None:
    """Put the finished export ``tmp`` in place of ``out`` (readable folders; an old ``out`` replaced whole)."""
    for f in (tmp, *tmp.rglob("*")):
        if f.is_dir():
            f.chmod(0o755)
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
