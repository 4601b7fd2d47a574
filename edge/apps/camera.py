"""Real-time digits from a camera, a video file or a stream: the plain OpenCV loop a Pi user can read.

Sources: anything OpenCV opens (a device index such as ``0``, a video file, a stream URL),
or ``picamera`` (``picamera:N``) for the Raspberry Pi camera module through Picamera2.

Each frame: grayscale, the region of interest, shrunk to ``work_side`` pixels, the same
digit finding and preprocessing as ``classify`` (edge/vision/preprocess.py), one batched model
call.  With a window: boxes, digits, confidences and the FPS averaged over the last 10
frames; ``q`` quits.  Headless: one JSON line per frame.  OpenCV is imported here only.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from digitlite.edge.apps.collect import Collector, crop_around
from digitlite.edge.apps.mqtt import Publisher, parse_url
from digitlite.edge.apps.readings_log import ChangeLog, LineFile, StreamLines
from digitlite.edge.runtime.predictor import Predictor
from digitlite.edge.runtime.reading import NumberReading, Reading, readings
from digitlite.edge.settings import (
    CAMERA_FLOOR,
    CAMERA_NOT_A_DIGIT,
    INK_CHOICES,
    CameraSettings,
)
from digitlite.edge.util.errors import DigitliteError, first_line
from digitlite.edge.util.quiet import quiet
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.lines import LineTracker
from digitlite.edge.vision.preprocess import Digit, find_digits

COLLECT_STABLE = 10  # with --collect and no --stable: frames a reading must hold before its digits are saved
READ_TIMEOUT_MS = 5000  # a stalled stream is an error after this, not a hang
FAILED_READS_ALLOWED = 5  # consecutive failed reads from a device before it counts as disconnected


def import_cv2():
    """OpenCV, or a clear message saying how to install it."""
    # FFmpeg, inside OpenCV, prints every damaged video frame on stderr ("[mjpeg @ 0x…] error
    # count"); damaged frames are decoded as far as they go and read like any other, so quiet it.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        # optional: OpenCV, the [camera] extra
        import cv2
    except ImportError:
        raise DigitliteError("the camera needs OpenCV: pip install 'digitlite[camera]' (or opencv-python-headless)") from None
    # OpenCV logs its own warnings on stderr (a missing device, a damaged frame); this tool
    # reports such problems itself, in one line.
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass
    return cv2


def parse_source(source: str):
    """A device index (``"0"``) as an int; a file path or stream URL as it is."""
    return int(source) if source.isdigit() else source


def picamera_number(source: str) -> int | None:
    """The camera-module number for ``picamera`` / ``picamera:N``; None for any other source."""
    name, _, number = source.partition(":")
    if name != "picamera":
        return None
    if number and not number.isdigit():
        raise DigitliteError(f"{source}: expected picamera or picamera:N (N the camera number)")
    return int(number or 0)


def is_live(source: str) -> bool:
    """True for a device (a number or a camera module), whose failed reads mean a fault, not the end."""
    return isinstance(parse_source(source), int) or picamera_number(source) is not None


def is_stream(source: str) -> bool:
    """True for a network stream (a URL), which has no end: a failed read means it stalled or dropped."""
    return "://" in source


def import_picamera2():
    """Picamera2's class, or one line saying why it cannot load and what to do."""
    try:
        # optional: Picamera2, on a Raspberry Pi only
        from picamera2 import Picamera2
    except ImportError as e:
        if e.name == "picamera2":
            raise DigitliteError("--source picamera needs Picamera2: sudo apt install python3-picamera2, and a venv "
                                 "made with --system-site-packages (the Pi bundle's install.sh makes one)") from None
        raise DigitliteError(f"--source picamera: Picamera2 is installed but cannot load ({first_line(e)}): "
                             "sudo apt install --reinstall python3-picamera2 python3-libcamera") from None
    except ValueError as e:
        if "numpy" not in str(e).lower():
            raise DigitliteError(f"--source picamera: Picamera2 cannot load ({first_line(e)})") from None
        # Raspberry Pi OS builds Picamera2's helpers (simplejpeg, ...) against its own NumPy; a
        # newer NumPy installed in the environment shadows it.
        raise DigitliteError(
            f"--source picamera: Picamera2 was built for Raspberry Pi OS's NumPy, not the NumPy {np.__version__} "
            f"installed here ({first_line(e)}); use the system's: {sys.prefix}/bin/pip uninstall -y numpy && "
            f"{sys.prefix}/bin/pip install 'opencv-python-headless<4.11'") from None
    except Exception as e:  # noqa: BLE001 - whatever a broken camera stack raises at import: one line
        raise DigitliteError(f"--source picamera: Picamera2 cannot load ({type(e).__name__}: {first_line(e)})") from None
    return Picamera2


class PicameraCapture:
    """The Raspberry Pi camera module through Picamera2, with the calls the loop makes on cv2.VideoCapture.

    Frames come as "RGB888", which Picamera2 lays out as B, G, R bytes: OpenCV's order.
    Picamera2 comes from Raspberry Pi OS (``sudo apt install python3-picamera2``), so the
    virtual environment must see the system's packages.
    """

    def __init__(self, number: int = 0, size: tuple[int, int] = (640, 480)):
        Picamera2 = import_picamera2()
        try:
            with quiet(stdout=False):  # libcamera logs its start-up on stderr
                cameras = Picamera2.global_camera_info()
        except Exception as e:  # libcamera raises whatever it likes when the stack is broken
            raise DigitliteError(f"picamera: libcamera could not list the cameras ({first_line(e)})") from None
        if number >= len(cameras):
            found = f"{len(cameras)} camera module(s) found" if cameras else "no camera module found"
            raise DigitliteError(f"picamera:{number}: {found}; is the ribbon cable seated and the camera "
                                 "detected (rpicam-hello --list-cameras)?")
        self._cam = None
        try:
            with quiet(stdout=False):
                cam = Picamera2(number)
                self._cam = cam
                cam.configure(cam.create_video_configuration(main={"size": size, "format": "RGB888"}))
                cam.start()
        except Exception as e:
            self.release()
            raise DigitliteError(f"picamera:{number}: cannot start ({first_line(e)}); is another program using it?") from None

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture name
        """True while the camera is running."""
        return self._cam is not None

    def read(self):
        """(True, BGR frame), or (False, None) when the camera gave no frame."""
        if self._cam is None:
            return False, None
        try:
            frame = self._cam.capture_array("main")
        except Exception:
            return False, None
        if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
            return False, None
        return True, frame[..., :3] if frame.ndim == 3 else frame  # XRGB8888 would carry a 4th byte

    def release(self) -> None:
        """Stop and close the camera (safe to call twice)."""
        cam, self._cam = self._cam, None
        if cam is not None:
            for step in (cam.stop, cam.close):
                try:
                    step()
                except Exception:
                    pass


def open_capture(source: str):
    """Open a source: Picamera2 for ``picamera[:N]``, else OpenCV with open/read timeouts.

    DigitliteError if it cannot be opened.
    """
    number = picamera_number(source)
    if number is not None:
        return PicameraCapture(number)
    cv2 = import_cv2()
    src = parse_source(source)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, READ_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    with quiet(stdout=False):  # FFmpeg prints its exceptions straight to the file descriptor
        cap = cv2.VideoCapture(src, cv2.CAP_ANY, params)
        opened = cap.isOpened()
    if not opened:
        cap.release()
        what = f"camera {src}" if isinstance(src, int) else str(src)
        hint = "is it plugged in, and free?" if isinstance(src, int) else "does it exist, and is it a video OpenCV can read?"
        raise DigitliteError(f"{what}: cannot open ({hint})")
    return cap


@dataclass
class FrameResult:
    """What was read in one frame: its number (see NumberReading) and how long it took."""

    index: int
    reading: NumberReading
    latency_ms: float
    seen: tuple = ()  # (Reading, its 28x28 input) for every mark read, "not a digit" ones too

    def samples(self):
        """(Reading, 28x28 input) of each digit in ``reading`` (what ``--collect`` saves)."""
        kept = {id(d) for d in self.reading.digits}
        return [(r, pixels) for r, pixels in self.seen if id(r) in kept]

    @property
    def digits(self) -> tuple[Reading, ...]:
        """Each digit found, left to right, with its box in the frame's pixels (digit None under the floor)."""
        return self.reading.digits

    @property
    def number(self) -> str:
        """The digits read left to right, "?" for one under the confidence floor beside confident
        ones; "" (no digit) when nothing in the frame reads as a digit with confidence."""
        return self.reading.number

    def as_dict(self) -> dict:
        """The JSON line for this frame."""
        return {"frame": self.index, **self.reading.as_dict(), "latency_ms": round(self.latency_ms, 3)}


class Stabilizer:
    """A reading that changes only once a new one has held for ``frames`` frames in a row.

    ``update`` takes each frame's own reading and returns the stable one: None until the
    first reading has held long enough, then the last reading that did ("" for no digit).
    """

    def __init__(self, frames: int):
        if frames < 1:
            raise DigitliteError(f"--stable must be at least 1 (got {frames})")
        self.frames = frames
        self.stable: str | None = None
        self._candidate: str | None = None
        self._run = 0

    def update(self, reading: str) -> str | None:
        """Feed one frame's reading; return the stable reading."""
        if reading == self._candidate:
            self._run += 1
        else:
            self._candidate, self._run = reading, 1
        if self._run >= self.frames:
            self.stable = reading
        return self.stable


class FrameReader:
    """Digits in frames: find, preprocess and classify, for one frame at a time.

    Frames are read as camera frames (edge/vision/preprocess.py): ``ink`` is dark on light paper
    unless told otherwise, what the frame's edge cuts is not read, and the page's lines are
    tracked from frame to frame.
    """

    def __init__(self, classifier: Predictor, roi=None, work_side: int = 160, min_confidence: float = CAMERA_FLOOR,
                 min_height: float = 0.08, ink: str = "dark"):
        if ink not in INK_CHOICES:
            raise DigitliteError(f"unknown ink {ink!r}; choose {', '.join(INK_CHOICES)}")
        self.classifier, self.roi, self.work_side = classifier, roi, work_side
        self.min_confidence, self.min_height, self.ink = min_confidence, min_height, ink
        self.cv2 = import_cv2()
        # OpenCV's thread pool costs more than it saves on frames this small (measured here: its
        # connected components 38 -> 15 us, the grayscale conversion 350 -> 100 us on one thread).
        self.cv2.setNumThreads(1)
        self.tracker = LineTracker()

    def candidates(self, frame: np.ndarray) -> list[Digit]:
        """The digits found in one BGR (or gray) frame, as 28x28 inputs with their boxes in the
        frame's pixels; none in a frame with nothing to read (black, saturated, noise, one row)."""
        cv2 = self.cv2
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        x0, y0 = 0, 0
        if self.roi:
            x0, y0, w, h = self.roi
            if x0 >= gray.shape[1] or y0 >= gray.shape[0]:
                raise DigitliteError(f"--roi {x0},{y0},{w},{h} is off the {gray.shape[1]}x{gray.shape[0]} frame")
            gray = gray[y0:y0 + h, x0:x0 + w]
        h, w = gray.shape
        scale = self.work_side / max(h, w)
        small = gray
        while min(small.shape) >= 4 and max(small.shape) >= 2 * self.work_side:  # halving: OpenCV's fast path
            small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if (small.shape[1], small.shape[0]) != size:
            small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        try:
            found = find_digits(small.astype(np.float32), ink=self.ink, frame=True, min_height=self.min_height,
                                tracker=self.tracker)
        except ImageError:
            return []
        return [Digit(d.pixels, (x0 + round(d.box[0] / scale), y0 + round(d.box[1] / scale),
                                 x0 + round(d.box[2] / scale), y0 + round(d.box[3] / scale))) for d in found]

    def read(self, frame: np.ndarray, index: int = 0) -> FrameResult:
        """Classify the digits in one BGR (or gray) frame (see ``candidates``)."""
        started = time.perf_counter()
        found = self.candidates(frame)
        digits = self.classify(found)
        return FrameResult(index, NumberReading.of(digits), (time.perf_counter() - started) * 1000,
                           tuple(zip(digits, (d.pixels for d in found))))

    def classify(self, found: list[Digit]) -> list[Reading]:
        """The readings of a frame's candidates, as a camera frame's: under its floor, and "not a
        digit" only when the model is sure (settings.CAMERA_NOT_A_DIGIT)."""
        if not found:
            return []
        return readings(self.classifier.predict_proba(np.stack([d.pixels for d in found])), self.min_confidence,
                        [d.box for d in found], CAMERA_NOT_A_DIGIT)


def draw(frame: np.ndarray, result: FrameResult, fps: float, roi=None, stable: str | None = None) -> np.ndarray:
    """Boxes, digits and confidences, the region of interest, the FPS and the stable reading, drawn on the frame."""
    cv2 = import_cv2()
    out = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if roi:
        x, y, w, h = roi
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 200, 0), 1)
    for d in result.digits:
        x0, y0, x1, y1 = d.box
        color = (0, 200, 0) if d.digit is not None else (0, 0, 255)
        cv2.rectangle(out, (x0, y0), (x1, y1), color, 2)
        label = f"{d.symbol} {d.confidence * 100:.0f}%"
        cv2.putText(out, label, (x0, max(20, y0 - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.8, color, 2)
    cv2.putText(out, f"FPS {fps:.1f}", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 3)
    cv2.putText(out, f"FPS {fps:.1f}", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 1)
    if stable is not None:
        text = f"reading: {stable or '-'}"
        cv2.putText(out, text, (10, out.shape[0] - 14), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 4)
        cv2.putText(out, text, (10, out.shape[0] - 14), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 220, 0), 2)
    return out


def no_window_reason(cv2, environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why a window cannot open here (no GUI in this OpenCV, no display), or None.

    Checked before the first frame: OpenCV's Qt build aborts the whole process (exit 134)
    when it finds no display, and its headless build raises on the first imshow.
    """
    gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                if line.strip().startswith("GUI:")), "")
    if gui.upper() == "NONE":
        return "this OpenCV has no window support (opencv-python-headless)"
    if platform.startswith("linux") and not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return "there is no display (DISPLAY is not set: over SSH, in a service, or in a container)"
    return None


def frames(reader: FrameReader, cap, source: str, max_frames: int = 0):
    """Yield (frame, FrameResult) for each frame read from the open capture ``cap`` of ``source``.

    Ends at ``max_frames`` (0: no limit) or the end of a video file.  A device or network
    stream that stops delivering frames is an error (DigitliteError) after the read timeout,
    not a hang; a damaged frame in a file is decoded as far as it goes and read like any other.
    """
    is_device = is_live(source)
    count, failures = 0, 0
    while not max_frames or count < max_frames:
        ok, frame = cap.read()
        if not ok or frame is None:
            if is_stream(source):
                raise DigitliteError(f"{source}: the stream stopped delivering frames "
                                     f"(no frame for {READ_TIMEOUT_MS // 1000} s, or it ended) after {count} frames")
            if not is_device:
                return  # the end of the file
            failures += 1
            if failures > FAILED_READS_ALLOWED:
                raise DigitliteError(f"camera {source}: stopped delivering frames (disconnected?)")
            continue
        failures = 0
        result = reader.read(frame, count)
        count += 1
        yield frame, result


def run(classifier, settings: CameraSettings, out=None) -> int:
    """The camera loop of ``classifier`` (an ``api.Classifier``) as ``settings`` say; returns the frames read.

    Ends at ``max_frames``, the end of a video file, ``q`` in the window, or Ctrl-C (or
    SIGTERM).  With ``stable`` (frames), each JSON line also carries the reading that has
    held that many frames in a row, and the window shows it.  JSON lines (headless, or with
    ``output``) go to ``out`` or to the file ``output``, rotated past ``max_mb``: one a frame,
    or with ``log="changes"`` one a change of reading and a heartbeat every ``heartbeat`` s.
    With ``mqtt`` (a broker URL, see apps.mqtt), each change of reading is also published there.
    Frames are read by ``classifier.frame_reader`` (as ``Classifier.camera`` reads them), errors included.
    """
    source, headless, output, mqtt, log = settings.source, settings.headless, settings.output, settings.mqtt, settings.log
    roi, max_frames = settings.roi, settings.max_frames
    max_bytes, heartbeat, stable = int(settings.max_mb * 1_000_000), settings.heartbeat, settings.stable
    out = out or sys.stdout  # looked up now, not when the module was imported
    cv2 = import_cv2()
    if not headless and (reason := no_window_reason(cv2)):
        raise DigitliteError(f"cannot show the camera window: {reason}; add --headless for JSON lines")
    collector = Collector(settings.collect) if settings.collect else None  # an unwritable folder fails first
    sink = LineFile(output, max_bytes) if output else StreamLines(out)  # an unwritable log fails first
    changes = ChangeLog(heartbeat) if log == "changes" or mqtt else None  # one tracker for the log and the broker
    publisher = cap = None
    try:
        if mqtt:
            parse_url(mqtt)  # a bad URL is an error before the camera opens
        cap = open_capture(source)
        if mqtt:  # after opening: that silences stderr for a moment, and the broker's notes come from a thread
            publisher = Publisher(mqtt, discovery=settings.mqtt_discovery or None)
    except BaseException:
        sink.close()
        if cap is not None:
            cap.release()
        raise
    reader = classifier.frame_reader(settings)
    steady = Stabilizer(stable) if stable else None
    held = (steady or Stabilizer(COLLECT_STABLE)) if collector else None
    collected = None  # the stable reading last saved: a digit is saved once, when it has held
    times = deque(maxlen=10)
    count = 0
    try:
        for frame, result in frames(reader, cap, source, max_frames):
            count += 1
            times.append(time.perf_counter())
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            line = result.as_dict()
            if steady:
                line["stable"] = steady.update(result.number)
            if held:
                now = line["stable"] if steady else held.update(result.number)
                if now and now != collected:
                    _collect_frame(collector, frame, result, source)
                collected = now
            events = changes.update(line) if changes else []
            if headless or output:
                for record in events if log == "changes" else (line,):
                    sink.write(record)
            if publisher:
                for record in events:
                    if record["event"] == "change":
                        publisher.publish(record)
            if not headless:
                cv2.imshow("digitlite", draw(frame, result, fps, roi, line.get("stable")))
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        sink.close()
        if publisher:
            publisher.close()
        if not headless:
            cv2.destroyAllWindows()
    if collector:
        print(collector.summary(), file=sys.stderr)
    if count == 0:
        raise DigitliteError(f"{source}: no frame could be read")
    return count


def _collect_frame(collector: Collector, frame: np.ndarray, result: FrameResult, source: str) -> None:
    """Save each digit of a frame whose reading has just held, with its crop from the frame."""
    rgb = frame[..., ::-1] if frame.ndim == 3 else frame
    for reading, pixels in result.samples():
        collector.save(reading, pixels, crop_around(rgb, reading.box), f"{source}#frame{result.index}")
