"""How digits are read, and every edge command's options: their defaults, written once, and checked once.

Each settings class is a frozen dataclass whose fields carry their help, their bounds and their
choices.  The command line's flags are generated from the fields (``add_flags``) and read back
into the class (``from_args``), so a default written here is the default of the flag, of the
Python API and of the function that uses it alike, and a bad value is the same one line whether
it came from a flag (naming ``--the-flag``) or from Python (naming ``the_field``).

Importing this module imports nothing but the standard library: the command line reads it to
build its help before anything heavy loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass, field

from digitlite.edge.util.errors import DigitliteError

RUNTIMES = ("litert", "tflite", "tensorflow")
RUNTIME_CHOICES = ("auto", *RUNTIMES)  # what --runtime accepts
INK_CHOICES = ("auto", "dark", "light")  # the ink's polarity: found, or given
LOG_CHOICES = ("frames", "changes")  # the camera's JSON lines: one per frame, or one per change
TARGETS = ("pi", "mcu", "web")  # what `digitlite export` builds

IMAGE_FLOOR = 0.0  # the confidence floor for an image (a file, a photo, a drawing) when none is given
CAMERA_FLOOR = 0.6  # ... for camera frames: a live view shows "?" rather than flicker between guesses
# In a camera frame, "not a digit" is the answer only at this probability or more, and a digit's
# confidence is its probability among the ten digits: what a frame's rules keep (no page lines, no
# specks, nothing cut by the frame's edge) is digit-like already, and the model, whose "not a digit"
# was trained on still pictures of letters and marks, calls many blurred or moving digits that.
# Chosen on the desk set's development seeds (99, 2026, 7); docs/usage.md says what it does.
CAMERA_NOT_A_DIGIT = 0.95
COLLECT_HELP = ("save each digit read, its crop and its 28x28 input, into DIR/<digit>/ (unsure and 'not a digit' "
                "answers into DIR/unsorted/, to sort by hand), with DIR/index.jsonl; never overwrites; for digitlite tune")


def option(default, help: str, *, low=None, high=None, above=None, choices=None, metavar=None,  # noqa: A002
           flag: str | None = None, parse=None):
    """A settings field: its default, its help, and what it may be (``low <= v <= high``,
    ``v > above``, one of ``choices``); ``parse`` turns the flag's text into the value."""
    return field(default=default, metadata={"help": help, "low": low, "high": high, "above": above,
                                            "choices": choices, "metavar": metavar, "flag": flag, "parse": parse})


def flag_of(f: dataclasses.Field) -> str:
    """The command-line flag of a settings field."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


class SettingError(DigitliteError):
    """A setting out of its range or choices: ``field`` names it, ``problem`` says what is wrong, with
    ``{name}`` where its name goes (the field's in Python, the flag's on the command line)."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(problem.replace("{name}", field_name))
        self.field, self.problem = field_name, problem

    def named(self, name: str) -> str:
        """The message with ``name`` (a flag, say) for the field's name."""
        return self.problem.replace("{name}", name)


def _check(obj) -> None:
    """Raise SettingError for the first field of ``obj`` out of its range or choices (None is "not given")."""
    for f in dataclasses.fields(obj):
        m, value = f.metadata, getattr(obj, f.name)
        if value is None or m.get("help") is None:
            continue
        low, high, above, choices = m["low"], m["high"], m["above"], m["choices"]
        if choices is not None and value not in choices:
            raise SettingError(f.name, f"unknown {{name}} {value!r}; choose {', '.join(map(str, choices))}")
        if low is None and high is None and above is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingError(f.name, f"{{name}} must be a finite number (got {value})")
        if low is not None and high is not None and not low <= value <= high:
            raise SettingError(f.name, f"{{name}} must be between {low:g} and {high:g} (got {value:g})")
        if above is not None and not value > above:
            raise SettingError(f.name, f"{{name}} must be above {above:g} (got {value:g})")
        if low is not None and high is None and value < low:
            raise SettingError(f.name, f"{{name}} must not be negative (got {value:g})" if low == 0
                               else f"{{name}} must be at least {low:g} (got {value:g})")


class Settings:
    """What every settings class shares: checked when made (``dataclasses.replace`` checks its copy too)."""

    def __post_init__(self):
        _check(self)


@dataclass(frozen=True)
class ReadSettings(Settings):
    """How a Classifier reads digits: the model, its interpreter, and the confidence floor."""

    model: str | None = option(None, "a .tflite digit classifier, or a shipped model's name (digitlite models lists "
                                     "them; default: digits, the int8 model shipped with digitlite)")
    runtime: str = option("auto", "TFLite interpreter (auto: ai-edge-litert, else tflite-runtime, else TensorFlow)",
                          choices=RUNTIME_CHOICES)
    threads: int | None = option(None, "interpreter threads (default: the runtime's choice)", low=1)
    min_confidence: float | None = option(
        None, f"below this probability the answer is 'no digit' (null in JSON, ? in a number; default: "
              f"{IMAGE_FLOOR:g} for images, {CAMERA_FLOOR:g} for camera frames)", low=0.0, high=1.0, metavar="P")

    def floor(self, camera: bool = False) -> float:
        """The confidence floor for images, or for camera frames: the one given, else that use's default."""
        if self.min_confidence is not None:
            return self.min_confidence
        return CAMERA_FLOOR if camera else IMAGE_FLOOR


@dataclass(frozen=True)
class ClassifySettings(Settings):
    """``digitlite classify``: what is read from each file and what is kept."""

    multi: bool = option(False, "read a number: every digit in the image, left to right")
    recursive: bool = option(False, "read the images in the folders' subfolders too")
    top: int = option(1, "show the K most likely digits", low=1, high=10, metavar="K")
    save_preprocessed: str | None = option(None, "write the 28x28 input the model saw for each image", metavar="DIR")
    collect: str | None = option(None, COLLECT_HELP, metavar="DIR")


def parse_roi(text: str):
    """``x,y,width,height`` -> a region of interest, or argparse's error."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,width,height in pixels, got {text!r}") from None
    if w < 1 or h < 1 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f"the region {text!r} is empty or off the frame")
    return (x, y, w, h)


@dataclass(frozen=True)
class CameraSettings(Settings):
    """``digitlite camera`` and ``Classifier.camera``: the source, what is looked at, and where the lines go."""

    source: str = option("0", "a device index, video file or stream URL (OpenCV), or picamera[:N] for the Pi "
                              "camera module")
    headless: bool = option(False, "no window: JSON lines on stdout")
    max_frames: int = option(0, "stop after N frames (0: until the end or q)", low=0)
    roi: tuple | None = option(None, "only look inside x,y,width,height", parse=parse_roi)
    ink: str = option("dark", "dark ink on light paper (default), light on dark (chalk), or auto: decided per "
                              "frame", choices=INK_CHOICES)
    stable: int = option(0, "also report (JSON 'stable', and in the window) the reading once it has held N frames "
                            "in a row; each line keeps the frame's own reading as 'number'", low=0, metavar="N")
    log: str = option("frames", "JSON lines: one per frame (default), or one per change of reading (the 'stable' "
                                "one with --stable) plus a heartbeat: what a service should keep", choices=LOG_CHOICES)
    heartbeat: float = option(60.0, "with --log changes: a heartbeat line every S seconds (0: none)", low=0.0,
                              metavar="S")
    output: str | None = option(None, "append the JSON lines to FILE instead of stdout (also with the window); past "
                                      "--max-mb it becomes FILE.1 and a new FILE starts", metavar="FILE")
    max_mb: float = option(10.0, "size cap of --output in MB", above=0.0, metavar="MB")
    mqtt: str | None = option(None, "also publish each change of reading to mqtt://host[:port]/topic (mqtts:// for "
                                    "TLS): topic/reading (JSON, retained) and topic/status (online/offline); user and "
                                    "password from DIGITLITE_MQTT_USER and DIGITLITE_MQTT_PASSWORD", metavar="URL")
    collect: str | None = option(None, COLLECT_HELP + "; a digit is saved once its reading has held --stable frames "
                                 "(10 if not given), not every frame", metavar="DIR")
    mqtt_discovery: str = option("homeassistant", "with --mqtt: Home Assistant's discovery prefix, under which a "
                                                  "retained config announces the camera as a sensor ('' for none)",
                                 metavar="PREFIX")


@dataclass(frozen=True)
class ServeSettings(Settings):
    """``digitlite serve``: where it listens and how many processes answer."""

    host: str = option("127.0.0.1", "address to listen on")
    port: int = option(8000, "port to listen on (0: any free port)", low=0, high=65535)
    workers: int | None = option(None, "processes answering requests, each with its own interpreter (default: one "
                                       "per core)", low=1, metavar="N")
    max_body_mb: float = option(2.0, "the largest request body in MB (a drawing is a few KB; a phone's photo needs "
                                     "about 8)", above=0.0, metavar="MB")
    collect: str | None = option(None, COLLECT_HELP + "; the page's 'wrong? it was ...' saves the drawing under the "
                                 "digit chosen", metavar="DIR")

    def processes(self) -> int:
        """The worker processes: the number given, else one per core."""
        return self.workers if self.workers is not None else (os.cpu_count() or 1)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, where there is one and its help does not already say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, "", [], False) or "default" in text:
            return text
        return super()._get_help_string(action)


def add_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """Add a flag per field of the settings class ``cls`` (but those in ``skip``), with its default and help."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        m = f.metadata
        if f.type in (bool, "bool"):
            parser.add_argument(flag_of(f), action="store_true", help=m["help"])
            continue
        kind = m["parse"] or {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
        parser.add_argument(flag_of(f), type=kind, default=f.default, choices=m["choices"], metavar=m["metavar"],
                            help=m["help"])


def from_args(cls, args: argparse.Namespace, **given):
    """The settings of class ``cls`` from parsed flags (and ``given`` values); a bad one is one line naming its flag."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    try:
        return cls(**{**values, **given})
    except SettingError as e:
        flag = flag_of(next(f for f in dataclasses.fields(cls) if f.name == e.field))
        raise DigitliteError(e.named(flag)) from None
