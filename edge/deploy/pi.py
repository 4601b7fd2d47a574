"""Build the folder a user copies to a Raspberry Pi: ``digitlite export --target pi OUT``.

The bundle holds

* ``digitlite-<version>-py3-none-any.whl``: the wheel the normal build makes, keeping only
  ``digitlite`` and ``digitlite.edge`` (runtime, preprocessing, camera, web page, the shipped
  model) and the device benchmark (``digitlite bench``): no TensorFlow, no train or quantize;
* ``model/<name>.tflite`` and its model card ``model/<name>.json``;
* ``requirements.txt`` (ai-edge-litert, the default interpreter) and
  ``requirements-tflite-runtime.txt`` (tflite-runtime 2.14 with the NumPy 1 it needs);
* ``install.sh`` (a virtual environment with the wheel and one requirements file),
  ``run.sh`` (live camera digits as JSON lines, or any other command with the bundled
  model), ``digitlite-camera.service.in`` (the systemd unit ``install.sh`` fills in),
  ``README.txt``, ``bundle.json`` (what was exported) and ``SHA256SUMS``.

The wheel holds what the normal build's would (``pyproject.toml`` holds the pins, the entry point
and the package map, once): from a checkout, its files by pyproject.toml's package map with the
installed metadata (no build backend needed; on Python 3.10 the backend builds it); from an installed
wheel, that distribution's own files; then the other stages are dropped from it.  Nothing is
downloaded, and the same sources give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from digitlite.edge.deploy.bundle import (
    check_out,
    export_folder,
    model_with_card,
    package_version,
    write_manifest,
)
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError

EDGE_EXTRAS = ("camera",)  # the extras that serve the edge part (train needs the dropped stages)
# `digitlite bench` measures the device it runs on, so the Pi gets it; the rest of benchmarks/ (the other
# benchmarks, the Pi's emulation, the rendered sets) is for a development machine and stays out.
DEVICE_BENCH = frozenset(f"digitlite/benchmarks/{m}.py" for m in ("__init__", "cli", "bench", "memprobe", "common",
                                                                      "publish", "headline"))


INTERPRETER = "ai-edge-litert"  # the default interpreter, first in requirements.txt
HEADLESS = {"opencv-python": "opencv-python-headless"}  # a Pi service has no screen: OpenCV without its GUI
# The other requirements file's interpreter.  tflite-runtime's last release (2.14) was built against
# NumPy 1, and OpenCV wheels from 4.11 on need NumPy 2, hence the upper bounds it adds.
TFLITE_RUNTIME = "tflite-runtime==2.14.0"
TFLITE_RUNTIME_BOUNDS = {"numpy": "<2", "opencv-python-headless": "<4.11"}


def requirements(requires: list[str] | None = None) -> dict[str, list[str]]:
    """The bundle's requirements files, one per interpreter, made from the distribution's own
    Requires-Dist (``requires``, default: the installed digitlite's): pyproject.toml's pins, written
    once.  The base dependencies and the edge extras' are kept, OpenCV headless."""
    if requires is None:
        try:
            requires = metadata.requires("digitlite") or []
        except metadata.PackageNotFoundError:
            raise DigitliteError("digitlite's metadata is missing (not installed?): pip install -e . first") from None
    kept = []
    for line in requires:
        spec, _, marker = (part.strip() for part in line.partition(";"))
        extra = re.search(r"""extra\s*==\s*['"]([\w-]+)['"]""", marker)
        if extra and extra.group(1) not in EDGE_EXTRAS:
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
        kept.append((HEADLESS.get(name, name), HEADLESS.get(name, name) + spec[len(name):]))
    others = [(name, spec) for name, spec in kept if name != INTERPRETER]
    return {
        "requirements.txt": [spec for name, spec in kept if name == INTERPRETER] + [spec for _, spec in others],
        "requirements-tflite-runtime.txt": [TFLITE_RUNTIME] + [
            spec + ("," + TFLITE_RUNTIME_BOUNDS[name] if name in TFLITE_RUNTIME_BOUNDS else "") for name, spec in others],
    }


# What install.sh adds on Raspberry Pi OS Bookworm (NumPy 1.24 from apt): NumPy stays below 2 so that
# Picamera2, built against the system's NumPy, still loads, and OpenCV below 4.11, the last built for NumPy 1.
BOOKWORM_CONSTRAINTS = ("numpy<2", "opencv-python-headless<4.11")


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same files give the same wheel


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _checkout() -> Path | None:
    """The source checkout digitlite runs from (editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "edge" / "package").is_dir() else None


def _checkout_wheel(root: Path) -> dict[str, bytes] | None:
    """The checkout's wheel files, made straight from pyproject.toml's package map (``packages``,
    ``package-dir``, ``package-data``) and the installed distribution's metadata: no build backend is
    run, so a fresh venv's setuptools (65 on Python 3.11, which cannot build a wheel without the
    ``wheel`` package) is no obstacle.  None where Python has no tomllib (3.10): then the backend builds."""
    try:
        import tomllib  # optional: Python 3.11 and later
    except ImportError:
        return None
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs, data = config["package-dir"], config.get("package-data", {})

    def folder_of(package: str) -> Path:
        if package in dirs:
            return root / dirs[package]
        parent, _, leaf = package.rpartition(".")
        return folder_of(parent) / leaf

    files = {}
    for package in config["packages"]:
        folder, arc = folder_of(package), package.replace(".", "/")
        chosen = [*folder.glob("*.py"), *(f for pattern in data.get(package, []) for f in folder.glob(pattern))]
        for f in sorted(set(chosen)):
            if f.is_file():
                files[f"{arc}/{f.relative_to(folder).as_posix()}"] = f.read_bytes()
    # the installed dist-info (pip's), not a stale egg-info a build may have left in the checkout
    dist = next((d for d in metadata.distributions(name="digitlite") if d.read_text("METADATA")), None)
    if dist is None:
        return None
    if dist.version != package_version():
        raise DigitliteError(f"{root}: the installed metadata is of digitlite {dist.version}, the checkout is "
                             f"{package_version()}: pip install -e . again")
    info = f"digitlite-{dist.version}.dist-info"
    headers = dist.read_text("METADATA").split("\n\n", 1)[0]  # the body is the README, read fresh from the checkout
    files[f"{info}/METADATA"] = (headers + "\n\n" + (root / "README.md").read_text()).encode()
    files[f"{info}/top_level.txt"] = b"digitlite\n"
    files[f"{info}/entry_points.txt"] = (dist.read_text("entry_points.txt") or "").encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: digitlite\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return files


def _built_wheel(root: Path, work: Path) -> dict[str, bytes]:
    """Build the checkout's wheel with its build backend (in a copy, so the checkout stays clean)."""
    src = work / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(
        ".*", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", "tests", "docs", "results"))
    code = "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))"
    built = subprocess.run([sys.executable, "-c", code, str(work)], cwd=src, capture_output=True, text=True,
                           env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"})
    if built.returncode != 0:
        reason = (built.stderr.strip().splitlines() or ["no output"])[-1]
        raise DigitliteError(f"{root}: the wheel could not be built ({reason}); pip install 'setuptools>=68'")
    with zipfile.ZipFile(work / built.stdout.strip().splitlines()[-1]) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _installed_wheel() -> dict[str, bytes]:
    """The installed distribution's files, as its wheel held them (its RECORD lists them)."""
    dist = metadata.distribution("digitlite")
    files = {}
    for f in dist.files or []:
        if f.suffix != ".pyc" and "__pycache__" not in f.parts and not f.name == "INSTALLER" \
                and not f.parts[0].endswith(".data") and not str(f).startswith(".."):
            files[f.as_posix()] = Path(dist.locate_file(f)).read_bytes()
    if not files:
        raise DigitliteError("digitlite's installed files are not listed (no RECORD): reinstall it with pip")
    return files


def _edge_part(files: dict[str, bytes]) -> dict[str, bytes]:
    """The build's files that the edge part keeps: its packages, and its metadata without the others."""
    # the package's own files (__init__, __main__), digitlite.edge with its model and web page, and the
    # device benchmark (`digitlite bench`: numpy and the interpreter only) with the modules it uses
    kept = {n: d for n, d in files.items() if n.startswith("digitlite/edge/") or n.count("/") == 1
            and n.startswith("digitlite/") or n in DEVICE_BENCH}
    for name, data in files.items():
        folder, base = name.split("/", 1) if "/" in name else ("", name)
        if not folder.endswith(".dist-info") or base in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
            continue
        text = data.decode()
        if base == "METADATA":
            text = "\n".join(line for line in text.split("\n") if not _other_extra(line))
        elif base == "entry_points.txt":
            text = _keep_commands(text, ("bench",))  # not the other stages' subcommands (train, quantize)
        kept[name] = text.encode()
    return kept


def _other_extra(line: str) -> bool:
    extra = re.search(r"""extra\s*==\s*['"]([\w-]+)['"]""", line) if line.startswith("Requires-Dist:") else None
    if line.startswith("Provides-Extra:"):
        return line.split(":", 1)[1].strip() not in EDGE_EXTRAS
    return bool(extra) and extra.group(1) not in EDGE_EXTRAS


def _keep_commands(ini: str, keep: tuple[str, ...]) -> str:
    """entry_points.txt with only the ``keep`` subcommands left in its digitlite.commands section."""
    out, section = [], ""
    for line in ini.splitlines():
        if line.startswith("["):
            section = line.strip()
        elif section == "[digitlite.commands]" and "=" in line and line.split("=", 1)[0].strip() not in keep:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def build_edge_wheel(out_dir: str | os.PathLike) -> Path:
    """Write the edge part of digitlite's wheel into ``out_dir``; return its path.

    The files are the build's (see the module docstring) less the other stages; entries
    are written in name order with a fixed date and a fresh RECORD, so the same sources
    give the same bytes.
    """
    work = Path(tempfile.mkdtemp(prefix="digitlite-wheel-"))
    try:
        root = _checkout()
        made = (_checkout_wheel(root) or _built_wheel(root, work)) if root else _installed_wheel()
        files = _edge_part(made)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    dist_info = next(n.split("/")[0] for n in files if n.endswith(".dist-info/METADATA"))
    name, version = dist_info[: -len(".dist-info")].rsplit("-", 1)
    wheel = Path(out_dir) / f"{name}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname in sorted(files, key=lambda n: (n.startswith(dist_info), n)):  # dist-info last
            info = zipfile.ZipInfo(arcname, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[arcname])
            records.append(f"{arcname},{_record_hash(files[arcname])},{len(files[arcname])}")
        record_name = f"{dist_info}/RECORD"
        info = zipfile.ZipInfo(record_name, _ZIP_TIME)
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(records + [f"{record_name},,"]) + "\n")
    return wheel


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


INSTALL_SH = r"""#!/bin/sh
# Install digitlite's edge runtime from this folder into a virtual environment.
#   ./install.sh                  # ai-edge-litert, the default interpreter
#   ./install.sh tflite-runtime   # tflite-runtime 2.14 with NumPy 1 instead
# The environment goes to ./venv (DIGITLITE_VENV=... to choose). It sees the system's
# packages, so that Picamera2 from Raspberry Pi OS (python3-picamera2) can be used.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="${DIGITLITE_VENV:-$here/venv}"
fail() { echo "install.sh: error: $*" >&2; exit 1; }
case "${1:-litert}" in
    litert|ai-edge-litert) req=requirements.txt ;;
    tflite|tflite-runtime) req=requirements-tflite-runtime.txt ;;
    *) fail "unknown interpreter '$1': choose litert or tflite-runtime" ;;
esac
cd "$here"
[ -f SHA256SUMS ] || fail "SHA256SUMS is missing: copy the whole folder made by 'digitlite export'"
while read -r sum name; do
    [ -f "$name" ] || fail "the bundle lacks $name: copy the whole folder made by 'digitlite export' again"
done < SHA256SUMS
sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1 \
    || fail "a file of the bundle is damaged (sha256 mismatch; sha256sum -c SHA256SUMS says which): copy it again"
command -v python3 >/dev/null 2>&1 || fail "python3 is not installed: sudo apt install python3"
python3 -m venv --system-site-packages "$venv" >/dev/null 2>&1 \
    || fail "cannot create a virtual environment in $venv: sudo apt install python3-venv"
# Raspberry Pi OS builds Picamera2's helpers (simplejpeg) against its own NumPy (1.24 on Bookworm):
# a NumPy 2 installed in the venv would shadow it ("numpy.dtype size changed"). So the system's
# NumPy is kept when there is one, and on Bookworm without one yet, NumPy stays below 2 (and with it
# OpenCV below 4.11), so that Picamera2 installed later still loads.
system_numpy=$(python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
codename=$( (. /etc/os-release && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)
constraints="$venv/digitlite-constraints.txt"
: > "$constraints"
[ -z "$system_numpy" ] || echo "numpy==$system_numpy" >> "$constraints"
case "$system_numpy:$codename" in
    1.*:*|:bookworm) printf '{bookworm_constraints}' >> "$constraints" ;;
esac
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" -c "$constraints" \
    || fail "pip could not install $req with $(tr '\n' ' ' < "$constraints")(is the network up?)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall {wheel} \
    || fail "pip could not install {wheel}"
sed -e "s|@BUNDLE@|$here|g" -e "s|@USER@|$(id -un)|g" -e "s|@VENV@|$venv|g" \
    digitlite-camera.service.in > digitlite-camera.service
"$venv/bin/digitlite" info --model "model/{model}" || fail "the installed runtime cannot run model/{model}"
echo "installed in $venv: ./run.sh for live digits from camera 0, ./run.sh --source picamera for the camera module"
"""


RUN_SH = r"""#!/bin/sh
# Live digits from a camera as JSON lines on stdout (Ctrl-C stops):
#   ./run.sh                          # USB webcam 0 (OpenCV)
#   ./run.sh --source picamera        # the Raspberry Pi camera module (Picamera2)
#   ./run.sh --source clip.mp4        # a video file or a stream URL
# Or any other digitlite command with the bundled model:
#   ./run.sh classify photo.jpg   ./run.sh serve --host 0.0.0.0   ./run.sh eval --samples 1000   ./run.sh info
#   ./run.sh bench --no-accuracy  # how fast the bundled model runs on this Pi
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="${DIGITLITE_VENV:-$here/venv}"
model="$here/model/{model}"
fail() { echo "run.sh: error: $*" >&2; exit 1; }
[ -x "$venv/bin/digitlite" ] || fail "digitlite is not installed in $venv: run $here/install.sh first"
[ -f "$model" ] || fail "the bundle lacks model/{model}: copy the whole folder made by 'digitlite export' again"
case "${1:-}" in
    eval|bench) cmd=$1; shift; exec "$venv/bin/digitlite" "$cmd" "$model" "$@" ;;
    classify|serve|info|camera) cmd=$1; shift; exec "$venv/bin/digitlite" "$cmd" --model "$model" "$@" ;;
    *) exec "$venv/bin/digitlite" camera --headless --model "$model" "$@" ;;
esac
"""


SERVICE = """# systemd unit: digits from the camera at boot, restarted on failure. It logs a JSON line per change
# of reading (a number appearing, changing, leaving) and a heartbeat a minute to digits.jsonl, which
# past 10 MB becomes digits.jsonl.1 (at most 20 MB on the card). For a line per frame, use --log frames.
# install.sh writes digitlite-camera.service from this file with the bundle's paths; then
#   sudo cp digitlite-camera.service /etc/systemd/system/
#   sudo systemctl daemon-reload && sudo systemctl enable --now digitlite-camera
#   tail -f @BUNDLE@/digits.jsonl        journalctl -u digitlite-camera
# For the camera module, change "--source 0" to "--source picamera". To publish the readings to an
# MQTT broker too, add --mqtt mqtt://host/topic (and Environment=DIGITLITE_MQTT_USER=... for a login).
[Unit]
Description=digitlite: handwritten digits from the camera, as JSON lines
After=local-fs.target
# keep trying for ever (a camera unplugged for a while, a slow boot)
StartLimitIntervalSec=0

[Service]
Type=simple
User=@USER@
WorkingDirectory=@BUNDLE@
Environment=DIGITLITE_VENV=@VENV@
ExecStart=@BUNDLE@/run.sh --source 0 --stable 3 --log changes --output @BUNDLE@/digits.jsonl --max-mb 10
StandardOutput=journal
StandardError=journal
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


README = """digitlite for a Raspberry Pi ({version}): model {model}{accuracy}

On the Pi (64-bit Raspberry Pi OS Bookworm, Python 3.11), in this folder:

  ./install.sh                 # a venv with the edge runtime and ai-edge-litert (./install.sh tflite-runtime for the other)
  ./run.sh                     # live digits from USB camera 0, one JSON line per frame
  ./run.sh --source picamera   # the camera module (sudo apt install python3-picamera2 first)
  ./run.sh classify photo.jpg  # a file
  ./run.sh serve --host 0.0.0.0   # the draw-a-digit page on port 8000
  ./run.sh bench --no-accuracy    # latency, throughput and memory of the model on this Pi (--data-dir for accuracy)

At boot: install.sh wrote digitlite-camera.service; see the comments at its top.
Files: {files}
"""


def export_pi(out: str | os.PathLike, model: str | os.PathLike | None = None, force: bool = False) -> dict:
    """Write the Raspberry Pi bundle into the folder ``out``; return its manifest."""
    target = "pi"
    out = Path(out)
    check_out(out, force)
    model = Path(model) if model else default_model()
    card_path, card = model_with_card(model)
    version = package_version()
    with export_folder(out, force, "bundle") as tmp:
        wheel = build_edge_wheel(tmp)
        (tmp / "model").mkdir()
        shutil.copyfile(model, tmp / "model" / model.name)
        shutil.copyfile(card_path, tmp / "model" / card_path.name)
        needs = requirements()
        for name, lines in needs.items():
            (tmp / name).write_text("\n".join(lines) + "\n")
        scripts = {"install.sh": _fill(INSTALL_SH, wheel=wheel.name, model=model.name,
                                       bookworm_constraints="".join(f"{c}\\n" for c in BOOKWORM_CONSTRAINTS)),
                   "run.sh": _fill(RUN_SH, model=model.name)}
        for name, text in scripts.items():
            (tmp / name).write_text(text)
            (tmp / name).chmod(0o755)
        (tmp / "digitlite-camera.service.in").write_text(SERVICE)
        files = sorted([*(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()), "README.txt"])
        (tmp / "README.txt").write_text(README.format(
            version=version, model=model.name, files=", ".join(files),
            accuracy=f" ({card.tflite_accuracy * 100:.2f} % on the MNIST test set)"))
        manifest = {"target": target, "digitlite": version, "wheel": wheel.name, "model": f"model/{model.name}",
                    "default_interpreter": "ai-edge-litert", "requirements": sorted(needs),
                    "files": {f: sha256_file(tmp / f) for f in files}}
        write_manifest(tmp, manifest)
    return manifest
