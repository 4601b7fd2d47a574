"""Where the camera's JSON lines go, and how many of them: a service must not fill the SD card.

At 30 frames/s a line per frame is ~330 MB a day.  ``ChangeLog`` keeps what a reader of the log
wants: a line when the reading changes (a number appears, changes or leaves) and a heartbeat
every so often (the camera is alive, how fast it runs).  ``LineFile`` appends lines to a file
and, past a size cap, starts a new one, keeping the previous as ``FILE.1``: never more than
twice the cap on disk.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from digitlite.edge.util.errors import DigitliteError


def _now_iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


class ChangeLog:
    """From each frame's JSON record, the records worth keeping: changes and heartbeats.

    The reading followed is the frame's ``stable`` reading when there is one (``--stable N``;
    None while no reading has held yet), else its ``number``; "" is "no digit".
    """

    def __init__(self, heartbeat: float = 60.0, clock=time.time):
        self.heartbeat, self.clock = heartbeat, clock
        self._reading: object = ()  # nothing seen yet: the first frame is a change
        self._beat_at = self._beat_frames = None

    def update(self, line: dict) -> list[dict]:
        """The records to write for this frame (often none)."""
        now = self.clock()
        reading = line["stable"] if "stable" in line else line["number"]
        out = []
        if reading is not None and reading != self._reading:
            previous = None if self._reading == () else self._reading
            out.append({"event": "change", "time": _now_iso(now), "reading": reading, "previous": previous, **line})
            self._reading = reading
        if self._beat_at is None:
            self._beat_at, self._beat_frames = now, line["frame"]
        elif self.heartbeat and now - self._beat_at >= self.heartbeat:
            frames = line["frame"] - self._beat_frames
            out.append({"event": "heartbeat", "time": _now_iso(now), "frame": line["frame"], "reading": reading,
                        "fps": round(frames / (now - self._beat_at), 2)})
            self._beat_at, self._beat_frames = now, line["frame"]
        return out


class LineFile:
    """Append lines to ``path``; past ``max_bytes`` the file becomes ``path.1`` and a new one starts."""

    def __init__(self, path: str | os.PathLike, max_bytes: int):
        self.path, self.max_bytes = Path(path), max_bytes
        try:
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as e:
            raise DigitliteError(f"{self.path}: cannot write the log ({e.strerror or e})") from None
        self._size = self._file.tell()

    def write(self, record: dict) -> None:
        """One JSON line, flushed (a reader tailing the file sees it at once)."""
        text = json.dumps(record) + "\n"
        size = len(text.encode())
        if self._size and self._size + size > self.max_bytes:
            self._file.close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self._file = open(self.path, "a", encoding="utf-8")
            self._size = 0
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as e:
            raise DigitliteError(f"{self.path}: cannot write the log ({e.strerror or e})") from None
        self._size += size

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class StreamLines:
    """JSON lines to a text stream (stdout)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, record: dict) -> None:
        """One JSON line, flushed."""
        print(json.dumps(record), file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to close: the stream is the caller's."""
