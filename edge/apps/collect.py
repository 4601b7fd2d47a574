"""Keep what was read, to teach the model a person's own digits: ``--collect DIR``.

Every digit that ``classify``, ``camera`` or ``serve`` reads is saved into ``DIR/<digit>/`` as
two files, its crop (``<id>.png``, the picture it came from) and the 28x28 input the model saw
(``<id>.input.png``).  An answer that is "not a digit", "unsure", or a digit under
``SURE`` goes into ``DIR/unsorted/``: the person sorts those by moving them into the
right digit's folder (or into ``not_a_digit/``).  ``DIR/index.jsonl`` gets one line per sample:
its id, folder, source, time, reading and confidence.

Nothing is ever overwritten: a sample's files are created under a name no file has yet (a
hard link from a finished temp file, which fails rather than replace), so the folder can be
built up over many runs, by several processes at once.  ``digitlite tune DIR`` reads it back.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.edge.runtime.reading import Reading
from digitlite.edge.util.errors import DigitliteError

SURE = 0.9  # a digit read with less confidence is saved unsorted, for the person to check
UNSORTED = "unsorted"
NOT_A_DIGIT = "not_a_digit"  # the folder of samples that are no digit (the eleventh class)
LABEL_FOLDERS = tuple(str(d) for d in range(10)) + (NOT_A_DIGIT,)
INPUT_SUFFIX = ".input.png"
INDEX = "index.jsonl"
CROP_SIDE = 256  # a crop larger than this is saved at this size (its longer side)
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Sample:
    """One saved sample: where its two files are and the folder (label) they went to."""

    id: str
    folder: str
    crop: Path
    input: Path


def folder_for(reading: Reading, sure: float = SURE) -> str:
    """The folder a reading's sample goes to: its digit when read with at least ``sure``
    confidence, else ``unsorted``."""
    if reading.digit is None or reading.confidence < sure:
        return UNSORTED
    return str(reading.digit)


class Collector:
    """Saves samples into a collection folder; safe to share between threads, and between processes
    writing the same folder (no name is ever taken twice)."""

    def __init__(self, folder: str | os.PathLike, sure: float = SURE):
        self.folder, self.sure = Path(folder), sure
        self.saved: Counter[str] = Counter()  # samples saved by this collector, by folder
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.folder, prefix=".digitlite-", delete=True)
            probe.close()
        except OSError as e:
            raise DigitliteError(f"{folder}: cannot collect samples here ({e.strerror or e})") from None
        if not self.folder.is_dir():
            raise DigitliteError(f"{folder}: not a folder")

    def save(self, reading: Reading, pixels: np.ndarray, crop: np.ndarray | Image.Image | None,
             source: str, folder: str | None = None) -> Sample:
        """Save one sample: ``pixels`` (the 28x28 input), ``crop`` (the picture, grey or colour;
        None: the input itself), read from ``source`` as ``reading``; into ``folder`` if given (a
        label the person chose), else the reading's (``folder_for``).  Returns where it went."""
        folder = folder if folder is not None else folder_for(reading, self.sure)
        if folder not in LABEL_FOLDERS and folder != UNSORTED:
            raise DigitliteError(f"{folder!r} is not a label: use 0-9 or {NOT_A_DIGIT}")
        crop_image = _crop_image(pixels if crop is None else crop)
        input_image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L")
        target = self.folder / folder
        stem = _SAFE.sub("_", Path(source).stem)[:60].strip("_") or "sample"
        with self._lock:
            target.mkdir(exist_ok=True)
            sample = self._create(target, stem, folder, crop_image, input_image)
            record = {"id": sample.id, "folder": folder, "crop": f"{folder}/{sample.crop.name}",
                      "input": f"{folder}/{sample.input.name}", "source": str(source),
                      "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **_reading_fields(reading)}
            _append_line(self.folder / INDEX, record)
            self.saved[folder] += 1
        return sample

    def summary(self) -> str:
        """One line: how many samples this run saved, where, and how many wait unsorted."""
        total = sum(self.saved.values())
        return (f"collected {total} sample{'s' * (total != 1)} into {self.folder}"
                + (f" ({self.saved[UNSORTED]} in {UNSORTED}/: sort them by moving each into its digit's folder "
                   f"or {NOT_A_DIGIT}/)" if self.saved[UNSORTED] else ""))

    def _create(self, target: Path, stem: str, folder: str, crop: Image.Image, pixels: Image.Image) -> Sample:
        """Write both files under the first free ``<stem>-<n>`` (the input file claims the name)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1, 100_000):
            sample_id = f"{stem}-{stamp}-{n}"
            crop_path, input_path = target / f"{sample_id}.png", target / f"{sample_id}{INPUT_SUFFIX}"
            if crop_path.exists():
                continue
            if not _create_new(input_path, pixels):
                continue
            if not _create_new(crop_path, crop):  # taken between the check and now: give the name up
                input_path.unlink()
                continue
            return Sample(sample_id, folder, crop_path, input_path)
        raise DigitliteError(f"{target}: no free sample name left for {stem}")


def crop_around(image: np.ndarray, box, margin: float = 0.15) -> np.ndarray:
    """The part of ``image`` in ``box`` (x0, y0, x1, y1 in its pixels) with ``margin`` of the box's longer
    side around it, clipped to the image: a digit's crop as a sample keeps it."""
    x0, y0, x1, y1 = box
    pad = margin * max(x1 - x0, y1 - y0)
    h, w = image.shape[:2]
    return image[max(0, int(y0 - pad)):min(h, int(np.ceil(y1 + pad))), max(0, int(x0 - pad)):min(w, int(np.ceil(x1 + pad)))]


def _reading_fields(reading: Reading) -> dict:
    out = {"digit": reading.digit, "confidence": round(reading.confidence, 6)}
    if reading.reason:
        out["reason"] = reading.reason
    return out


def _crop_image(crop) -> Image.Image:
    """The crop as a PIL image no larger than CROP_SIDE (grey arrays stay grey; BGR frames come as RGB)."""
    image = crop if isinstance(crop, Image.Image) else Image.fromarray(
        np.clip(np.asarray(crop), 0, 255).astype(np.uint8))
    if max(image.size) > CROP_SIDE:
        image = image.copy()
        image.thumbnail((CROP_SIDE, CROP_SIDE))
    return image


def _create_new(path: Path, image: Image.Image) -> bool:
    """Write ``image`` as a PNG at ``path`` whole, only if nothing is there yet; False if something is."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".digitlite-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the name is taken: never replaces
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links (FAT on a USB stick): claim the name, then fill it
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(Path(tmp).read_bytes())
        return True
    finally:
        os.unlink(tmp)


def _append_line(path: Path, record: dict) -> None:
    """Append one JSON line with one write (O_APPEND: lines from several processes do not interleave)."""
    data = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_index(folder: str | os.PathLike) -> list[dict]:
    """The index's records, oldest first (a damaged line is skipped)."""
    path = Path(folder) / INDEX
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
