"""The ``digitlite`` command: one entry point, a subcommand per task.

The edge subcommands live here.  The other stages (train, quantize, bench) register
their subcommands through the ``digitlite.commands`` entry-point group, so this
module never imports them: each stage's ``cli`` module is light, and imports its
heavy dependencies (TensorFlow) only when its subcommand runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from importlib import metadata
from pathlib import Path

from digitlite.edge import __version__
from digitlite.edge.settings import (
    RUNTIME_CHOICES,
    TARGETS,
    CameraSettings,
    ClassifySettings,
    ReadSettings,
    ServeSettings,
    add_flags,
    from_args,
)
from digitlite.edge.util.errors import DigitliteError, first_line
from digitlite.edge.util.signals import sigterm_as_ctrl_c

ENTRY_POINT_GROUP = "digitlite.commands"


def _version() -> str:
    return __version__


def _register_eval(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a model (.keras or .tflite) on the 10,000 MNIST test images",
        description="Accuracy, loss, confusion matrix and per-class precision/recall/F1 on the MNIST test set.",
    )
    p.add_argument("model", nargs="?", help="a .keras or .tflite model file, or a shipped model's name (default: the "
                                            "shipped int8 model); --model MODEL says the same")
    p.add_argument("--model", dest="model_option", metavar="MODEL", help="the model, as in the other commands")
    p.add_argument("--data-dir", help="folder holding the MNIST .gz files (the two test files are enough; "
                                      "default: $DIGITLITE_DATA, then the cache)")
    p.add_argument("--samples", type=int, default=0, help="evaluate only the first N test images (0: all)")
    p.add_argument("--runtime", default="auto", choices=RUNTIME_CHOICES,
                   help="TFLite interpreter for a .tflite model")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--predictions", action="store_true",
                   help="with --json: add each image's predicted digit and a sha256 of all output probabilities")
    p.set_defaults(handler=_run_eval)


def _run_eval(args) -> int:
    # lazy: the command line starts without loading numpy, Pillow or the interpreter
    from digitlite.edge.apps.evaluate import evaluate_model
    from digitlite.edge.data.metrics import format_report
    from digitlite.edge.runtime.shipped import default_model

    model = _one_model(args.model, args.model_option) or default_model()
    report = evaluate_model(model, data_dir=args.data_dir, samples=args.samples, runtime=args.runtime,
                            predictions=args.predictions)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{model}: {report['samples']} MNIST test images")
        print(format_report(report))
    return 0


def _one_model(positional: str | None, option: str | None) -> str | None:
    """The model named positionally or with --model (both: the same one, else an error)."""
    if positional and option and positional != option:
        raise DigitliteError(f"two models named ({positional} and --model {option}): name one")
    return positional or option


def _register_models(subparsers) -> None:
    p = subparsers.add_parser(
        "models", help="list the models shipped with digitlite (--model takes their names)",
        description="Each shipped model: the name --model takes, its file, size, MNIST test accuracy (from its "
                    "card), outputs (11: with 'not a digit') and what it is for.",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(handler=_run_models)


def _run_models(args) -> int:
    # lazy: as the other commands
    from digitlite.edge.runtime.shipped import shipped_models

    rows = shipped_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        accuracy = f"{r['accuracy'] * 100:.2f}%" if r["accuracy"] is not None else "-"
        print(f"{r['name']:10} {r['size_bytes'] / 1024:6.1f} KB  {accuracy:>7}  {r['outputs'] or '?'} outputs  "
              f"{r['for']}\n{'':10} {r['file']}")
    return 0


def _add_model_options(p, floor: bool = True) -> None:
    """The flags of ReadSettings: the model, its interpreter, its threads, the confidence floor."""
    add_flags(p, ReadSettings, skip=() if floor else ("min_confidence",))


def _load_classifier(args, **given):
    """The Classifier the flags describe (ReadSettings, checked once)."""
    from digitlite.edge.api import Classifier  # lazy: numpy, Pillow and the interpreter

    return Classifier(settings=from_args(ReadSettings, args, **given))


def _register_classify(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="classify images of handwritten digits (files, folders, globs)",
        description="Photos, scans and drawings of a digit (dark on light or light on dark, any size) are "
                    "turned into MNIST-style 28x28 input and classified. One line per image; a bad file "
                    "is reported and the batch goes on; the exit code is 1 if any file failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or glob patterns")
    _add_model_options(p)
    p.add_argument("--json", action="store_true",
                   help='JSON lines: {"path", "digit", "confidence", "probabilities"} (with --multi: "number", "digits")')
    add_flags(p, ClassifySettings)
    p.set_defaults(handler=_run_classify)


def _run_classify(args) -> int:
    # lazy: the command line starts without loading numpy, Pillow or the interpreter
    from digitlite.edge.apps.classify import (
        IMAGE_SUFFIXES,
        classify_files,
        expand_paths,
    )
    from digitlite.edge.apps.collect import Collector
    from digitlite.edge.util import heap

    heap.keep_small()  # a folder of photos: memory stays where the largest one put it
    settings = from_args(ClassifySettings, args)
    classifier = _load_classifier(args)
    named = expand_paths(args.paths, recursive=settings.recursive)
    paths, failed = named.paths, 0
    for folder in named.empty:
        failed += 1
        print(f"digitlite: error: {folder}: no image files here ({', '.join(sorted(IMAGE_SUFFIXES))})"
              + ("; add --recursive to read its subfolders" if not settings.recursive and
                 any(p.is_dir() for p in Path(folder).iterdir()) else ""), file=sys.stderr, flush=True)
    collector = Collector(settings.collect) if settings.collect else None
    for r in classify_files(classifier, paths, multi=settings.multi, save_dir=settings.save_preprocessed,
                            collector=collector):
        if r.error is not None:
            failed += 1
            if args.debug and r.exception is not None:
                print_traceback(r.exception)
            print(f"digitlite: error: {r.error}", file=sys.stderr, flush=True)
            if args.json:
                print(json.dumps(r.as_dict()), flush=True)
            continue
        if args.json:
            record = r.as_dict()
            if settings.top > 1 and r.reading is not None:
                record["top"] = [[k, round(p, 6)] for k, p in r.reading.top(settings.top)]
            print(json.dumps(record), flush=True)
        elif settings.multi:
            boxes = "  ".join(f"{d.symbol}@{','.join(map(str, d.box))} {d.confidence * 100:.1f}%" for d in r.number.digits)
            print(f"{r.path}  {r.number.number or '-'}  {boxes}", flush=True)
        else:
            shown = "-" if r.reading.digit is None else str(r.reading.digit)
            line = f"{r.path}  {shown}  {r.reading.confidence * 100:.1f}%"
            if settings.top > 1:
                line += "  " + "  ".join(f"{k}:{p * 100:.1f}%" for k, p in r.reading.top(settings.top))
            if r.reading.reason:
                line += f"  ({r.reading.reason})"
            print(line, flush=True)
    bad = failed - len(named.empty)
    if len(paths) > 1 or bad:
        print(f"{len(paths) - bad} of {len(paths)} images classified, {bad} failed", file=sys.stderr)
    if collector:
        print(collector.summary(), file=sys.stderr)
    if named.skipped_folders:
        print(f"{named.skipped_folders} subfolder{'s' * (named.skipped_folders > 1)} not read: add --recursive to "
              "read them", file=sys.stderr)
    return 1 if failed else 0


def _register_camera(subparsers) -> None:
    p = subparsers.add_parser(
        "camera", help="read digits live from a camera, a video file or a stream",
        description="Finds the digit(s) in each frame (or in --roi), shows boxes, digits, confidence and FPS "
                    "in a window (q quits), or with --headless prints one JSON line per frame "
                    "(frame, number, digits with confidence and box, latency).",
    )
    _add_model_options(p)
    add_flags(p, CameraSettings)
    p.set_defaults(handler=_run_camera)


def _run_camera(args) -> int:
    # lazy: the command line starts without loading numpy, Pillow or the interpreter
    from digitlite.edge.apps.camera import run as camera_loop

    settings = from_args(CameraSettings, args)
    frames = camera_loop(_load_classifier(args), settings)
    print(f"{frames} frame{'s' * (frames != 1)} read from {settings.source}", file=sys.stderr)
    return 0


def _register_serve(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve the draw-a-digit web page (and its JSON API)",
        description="A page where you draw a digit and see the prediction; POST /api/predict takes a PNG or "
                    'JSON {"pixels": [[...]]}; GET /api/health gives the model card. Binds to 127.0.0.1: use '
                    "--host 0.0.0.0 to reach it from a phone on the same network.",
    )
    _add_model_options(p)
    add_flags(p, ServeSettings)
    p.set_defaults(handler=_run_serve)


def _run_serve(args) -> int:
    # lazy: the command line starts without loading numpy, Pillow or the interpreter
    from digitlite.edge.apps.serve import serve
    from digitlite.edge.util import heap

    heap.keep_small()  # a server's memory stays where its largest request put it
    settings = from_args(ServeSettings, args)
    # the workers are the parallelism: one interpreter thread each, unless told otherwise
    serve(_load_classifier(args, threads=1 if args.threads is None else args.threads), settings)
    return 0


def _register_info(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="check that a model runs here: interpreter, model card, one test call",
        description="Loads the model with the chosen interpreter, runs it once on a blank image and prints "
                    "the interpreter, the model's interface and sha256 and its card's accuracy. Exit 1 if it "
                    "cannot run.",
    )
    _add_model_options(p, floor=False)
    p.add_argument("--calls", type=int, default=0, metavar="N",
                   help="also time N single-image calls and report the median and p99 (a quick speed check on the device)")
    p.add_argument("--json", action="store_true", help="print the same as JSON")
    p.set_defaults(handler=_run_info)


def _run_info(args) -> int:
    if args.calls < 0:
        raise DigitliteError(f"--calls must not be negative (got {args.calls})")
    info = _load_classifier(args).info(calls=args.calls)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:20} {value}")
    return 0


def _register_export(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="build what a device needs: a Raspberry Pi bundle, microcontroller sources, a static web page",
        description="--target pi: OUT holds the edge runtime's wheel (no TensorFlow), the model and its card, "
                    "requirements files for the Pi, install.sh, run.sh and a systemd unit; copy OUT to the Pi "
                    "and run ./install.sh there. --target mcu: OUT holds C++ sources for TensorFlow Lite Micro "
                    "(the model as an array, a measured arena size, the op resolver, an example). --target web: "
                    "OUT is the draw-a-digit page as static files, reading digits in the browser with LiteRT.js "
                    "(fetched once from npm and checked against its published hash, or taken from --runtime-dir).",
    )
    p.add_argument("out", metavar="OUT", help="folder to write (must be empty or absent, unless --force)")
    p.add_argument("--target", default="pi", choices=TARGETS,
                   help="the device: pi (64-bit Raspberry Pi OS: a bundle to install), mcu (C++ sources for "
                        "TensorFlow Lite Micro, with a measured tensor arena; needs the [mcu] extra) or web (a static "
                        "page for any web server or static host; phones included)")
    p.add_argument("--model", help="the .tflite model to ship, with its .json card beside it (default: the shipped "
                                   "int8 model; web: its batch-1 twin, X_b1.tflite beside X.tflite)")
    p.add_argument("--force", action="store_true", help="replace OUT if it is not empty")
    p.add_argument("--data-dir", help=argparse.SUPPRESS)  # no longer needed: the example digit ships with digitlite
    p.add_argument("--runtime-dir", help="web: a folder holding the LiteRT.js tarballs (what `npm pack "
                                         "@litertjs/core@2.5.3 @litertjs/wasm-utils@2.5.3` writes) for a machine "
                                         "without network; default: the cache, else the npm registry")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="web: below this probability the page answers '?' rather than a digit (as serve's option)")
    p.set_defaults(handler=_run_export)


def _run_export(args) -> int:
    # lazy: the command line starts without loading numpy, Pillow or the interpreter
    from digitlite.edge.deploy.export import export_bundle

    if args.data_dir is not None:
        print("digitlite: note: export no longer needs --data-dir (the example digit ships with digitlite)",
              file=sys.stderr)
    manifest = export_bundle(args.out, target=args.target, model=args.model, force=args.force,
                             runtime_dir=args.runtime_dir, min_confidence=args.min_confidence)
    if args.target == "mcu":
        print(f"{args.out}: TensorFlow Lite Micro sources for {manifest['model']}: {manifest['model_bytes']:,} bytes "
              f"of flash, a {manifest['arena_bytes']:,}-byte tensor arena ({manifest['arena_measured_bytes']:,} "
              f"measured + {manifest['arena_margin_bytes']:,} for optimized kernels); see README.txt there")
    elif args.target == "web":
        print(f"{args.out}: the draw-a-digit page with {manifest['model']} under LiteRT.js "
              f"{manifest['runtime']['@litertjs/core']}; serve the folder with any static web server "
              f"(python3 -m http.server --directory {args.out}) and open it; see README.txt there")
    else:
        print(f"{args.out}: {len(manifest['files']) + 2} files for target {args.target} "
              f"({manifest['wheel']}, {manifest['model']}); copy it to the device and run ./install.sh there")
    return 0


EDGE_COMMANDS = (_register_classify, _register_camera, _register_serve, _register_eval, _register_info,
                 _register_export, _register_models)


def _stage_entry_points() -> dict:
    """name -> entry point for each stage installed beside edge (nothing imported yet)."""
    try:
        return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # noqa: BLE001 - broken metadata must not take the edge commands down with it
        return {}


def build_parser(load: str | None = "all") -> argparse.ArgumentParser:
    """The argument parser: edge commands plus every installed stage's commands.

    A stage's ``cli`` module is imported only when ``load`` names it (or is "all", for
    the full help); the others are listed by name, so running an edge command imports
    nothing of train, quantize or benchmarks.  A stage that fails to load is listed by
    name too, and ``parser.broken`` keeps why (absent from a slim install, or a real error).
    """
    parser = argparse.ArgumentParser(
        prog="digitlite",
        description="Handwritten digit recognition for the edge: train, quantize, classify, benchmark.",
        epilog="--debug (anywhere) or DIGITLITE_DEBUG=1 shows the traceback behind an error.",
    )
    parser.add_argument("--version", action="version", version=f"digitlite {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in EDGE_COMMANDS:
        register(subparsers)
    parser.broken = {}
    for name, ep in sorted(_stage_entry_points().items()):
        if load in ("all", name):
            try:
                ep.load()(subparsers)
                continue
            except Exception as e:  # noqa: BLE001 - reported when the command is asked for, with its cause
                parser.broken[name] = e
        subparsers.add_parser(name, help=f"(see digitlite {name} --help)")
    for name in sorted(set(STAGE_COMMANDS) - set(parser.broken) - set(subparsers.choices)):
        # a slim install (the Pi bundle) without that stage: the command is named, and says how to get it
        module = f"digitlite.{_STAGE_MODULES.get(name, name)}"
        parser.broken[name] = ModuleNotFoundError(f"No module named {module!r}", name=module)
        subparsers.add_parser(name, help="(not in this install)")
    return parser


def _command_in(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


_STAGE_MODULES = {"bench": "benchmarks", "tune": "train"}  # command -> the stage's package, where the names differ
STAGE_COMMANDS = ("train", "tune", "quantize", "bench")  # what the other stages add (pyproject.toml's digitlite.commands)


def _stage_error(name: str, e: Exception) -> DigitliteError:
    absent = isinstance(e, ModuleNotFoundError) and (e.name or "").startswith(f"digitlite.{_STAGE_MODULES.get(name, name)}")
    if absent:  # a slim install (the Pi bundle) without that stage
        return DigitliteError(f"'{name}' is not available in this install (pip install 'digitlite[train]' for "
                              "train, tune and quantize, the full digitlite for bench)")
    return DigitliteError(f"'{name}' could not be loaded: {type(e).__name__}: {first_line(e)}")


def print_traceback(e: BaseException) -> None:
    """The traceback of ``e`` with every cause it hid ("raise ... from None" hides the original error)."""
    cause = e
    while cause is not None:
        cause.__suppress_context__ = False
        cause = cause.__cause__ or cause.__context__
    traceback.print_exception(e)


def _report(e: BaseException, debug: bool, prefix: str = "") -> None:
    """The one-line error; with ``debug``, first the traceback with every cause it hid."""
    if debug:
        print_traceback(e)
    print(f"digitlite: error: {prefix}{first_line(e)}", file=sys.stderr)  # one line, whatever the message held


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code.

    Bad input ends in one line on stderr and exit code 1 (2 for usage errors, 130 for
    Ctrl-C or SIGTERM wherever it lands), never a traceback: ``--debug`` (anywhere on the
    line) or ``DIGITLITE_DEBUG=1`` adds the traceback, with the cause behind the message.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    ends = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:ends] or os.environ.get("DIGITLITE_DEBUG", "") not in ("", "0")
    argv = [a for i, a in enumerate(argv) if not (a == "--debug" and i < ends)]
    try:
        sigterm_as_ctrl_c()  # systemctl stop, kill, timeout: stop as documented for Ctrl-C
        command = _command_in(argv)
        parser = build_parser(load=command or "all")
        if not argv:  # bare `digitlite`: what it can do, not an error
            parser.print_help()
            return 0
        if command in parser.broken and not {"-h", "--help"} & set(argv):
            raise _stage_error(command, parser.broken[command]) from parser.broken[command]
        args = parser.parse_args(argv)
        args.debug = debug  # --debug was taken off the line above: the handlers read it here
        if not hasattr(args, "handler"):  # listed by name: its module could not be loaded
            raise _stage_error(args.command, parser.broken.get(args.command, ImportError(args.command)))
        return int(args.handler(args) or 0)
    except DigitliteError as e:
        _report(e, debug)
        return 1
    except KeyboardInterrupt:
        print("digitlite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `digitlite classify ... | head`
        return 0
    except Exception as e:  # noqa: BLE001 - a bug: still one line, and the way to see more
        _report(e, debug, prefix=f"unexpected {type(e).__name__} (a bug: --debug shows the traceback to report): ")
        return 1


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
        code = 130
    sys.exit(code)
