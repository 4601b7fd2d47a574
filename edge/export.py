"""Build the folder a user copies to a Raspberry Pi: ``digitlite export --target pi OUT``.

The bundle holds

* ``digitlite_edge-<version>-py3-none-any.whl``: the ``edge`` package alone (runtime,
  preprocessing, camera, web page, the shipped model), no TensorFlow and no other stage;
* ``model/<name>.tflite`` and its model card ``model/<name>.json``;
* ``requirements.txt`` (ai-edge-litert, the default interpreter) and
  ``requirements-tflite-runtime.txt`` (tflite-runtime 2.14 with the NumPy 1 it needs);
* ``install.sh`` (a virtual environment with the wheel and one requirements file),
  ``run.sh`` (live camera digits as JSON lines, or any other command with the bundled
  model), ``digitlite-camera.service.in`` (the systemd unit ``install.sh`` fills in),
  ``README.txt``, ``bundle.json`` (what was exported) and ``SHA256SUMS``.

The wheel is written here rather than by a build backend: it is a zip of the package
files with the standard metadata, so exporting needs no network and the same sources
give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from edge.digest import sha256_file
from edge.errors import DigitliteError

TARGETS = ("pi",)
WHEEL_NAME = "digitlite-edge"
WHEEL_DEPENDENCIES = ("numpy>=1.23", "pillow>=9.1")  # the interpreter comes from a requirements file
# One requirements file per interpreter.  tflite-runtime's last release (2.14) was built against
# NumPy 1, and OpenCV wheels from 4.11 on need NumPy 2, hence the upper bounds there.
REQUIREMENTS = {
    "requirements.txt": ["ai-edge-litert>=1.2", "numpy>=1.23", "pillow>=9.1", "opencv-python-headless>=4.8",
                         "paho-mqtt>=2.0"],
    "requirements-tflite-runtime.txt": ["tflite-runtime==2.14.0", "numpy>=1.23,<2", "pillow>=9.1",
                                        "opencv-python-headless>=4.8,<4.11", "paho-mqtt>=2.0"],
}
# What install.sh adds on Raspberry Pi OS Bookworm (NumPy 1.24 from apt): NumPy stays below 2 so that
# Picamera2, built against the system's NumPy, still loads, and OpenCV below 4.11, the last built for NumPy 1.
BOOKWORM_CONSTRAINTS = ("numpy<2", "opencv-python-headless<4.11")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same files give the same wheel


def package_version() -> str:
    """The installed digitlite (or digitlite-edge) version, 0.0.0 when running from a checkout."""
    from importlib import metadata

    for name in ("digitlite", WHEEL_NAME):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "0.0.0"


def _package_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_edge_wheel(out_dir: str | os.PathLike, version: str | None = None) -> Path:
    """Write the wheel of the ``edge`` package (and nothing else) into ``out_dir``; return its path."""
    version = version or package_version()
    package = Path(__file__).resolve().parent
    dist_info = f"{WHEEL_NAME.replace('-', '_')}-{version}.dist-info"
    wheel = Path(out_dir) / f"{WHEEL_NAME.replace('-', '_')}-{version}-py3-none-any.whl"
    metadata_text = "\n".join([
        "Metadata-Version: 2.1", f"Name: {WHEEL_NAME}", f"Version: {version}",
        "Summary: digitlite's edge runtime: handwritten digits with numpy, Pillow and a TFLite interpreter",
        "Requires-Python: >=3.10", *(f"Requires-Dist: {d}" for d in WHEEL_DEPENDENCIES), "", ""])
    meta = {
        f"{dist_info}/METADATA": metadata_text,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: digitlite export\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": "[console_scripts]\ndigitlite = edge.cli:run\n",
        f"{dist_info}/top_level.txt": "edge\n",
    }
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")

        for path in _package_files(package):
            add(f"edge/{path.relative_to(package).as_posix()}", path.read_bytes())
        for name, text in meta.items():
            add(name, text.encode())
        record_name = f"{dist_info}/RECORD"
        info = zipfile.ZipInfo(record_name, _ZIP_TIME)
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(records + [f"{record_name},,"]) + "\n")
    return wheel


def _model_with_card(model: Path) -> tuple[Path, dict]:
    from edge.runtime import check_tflite_bytes

    if not model.is_file():
        raise DigitliteError(f"{model}: no such model file")
    problem = check_tflite_bytes(model.read_bytes())
    if problem:
        raise DigitliteError(f"{model}: not a valid TFLite model ({problem})")
    card_path = model.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text())
    except FileNotFoundError:
        raise DigitliteError(f"{card_path}: the model card is missing (digitlite quantize writes it beside the model)") from None
    except (OSError, ValueError) as e:
        raise DigitliteError(f"{card_path}: unreadable model card ({e})") from None
    if not isinstance(card, dict):
        raise DigitliteError(f"{card_path}: not a model card (expected a JSON object)")
    if card.get("sha256") not in (None, sha256_file(model)):
        raise DigitliteError(f"{card_path}: the card's sha256 does not match {model.name}: not this model's card")
    return card_path, card


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
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="${DIGITLITE_VENV:-$here/venv}"
model="$here/model/{model}"
fail() { echo "run.sh: error: $*" >&2; exit 1; }
[ -x "$venv/bin/digitlite" ] || fail "digitlite is not installed in $venv: run $here/install.sh first"
[ -f "$model" ] || fail "the bundle lacks model/{model}: copy the whole folder made by 'digitlite export' again"
case "${1:-}" in
    eval) shift; exec "$venv/bin/digitlite" eval "$model" "$@" ;;
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

At boot: install.sh wrote digitlite-camera.service; see the comments at its top.
Files: {files}
"""


def export_bundle(out: str | os.PathLike, target: str = "pi", model: str | os.PathLike | None = None,
                  force: bool = False) -> dict:
    """Write the deployment bundle for ``target`` into the folder ``out``; return its manifest.

    The bundle is built in a temp folder beside ``out`` and renamed into place, so an
    interrupted export leaves no half-made bundle; an existing non-empty ``out`` is replaced
    only with ``force``.
    """
    from edge.classify import default_model

    if target not in TARGETS:
        raise DigitliteError(f"unknown target {target!r}; choose {', '.join(TARGETS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DigitliteError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DigitliteError(f"{out}: folder is not empty (use --force to replace it)")
    model = Path(model) if model else default_model()
    card_path, card = _model_with_card(model)
    version = package_version()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise DigitliteError(f"{out}: cannot write here ({e.strerror or e})") from None
    try:
        wheel = build_edge_wheel(tmp, version)
        (tmp / "model").mkdir()
        shutil.copyfile(model, tmp / "model" / model.name)
        shutil.copyfile(card_path, tmp / "model" / card_path.name)
        for name, lines in REQUIREMENTS.items():
            (tmp / name).write_text("\n".join(lines) + "\n")
        scripts = {"install.sh": _fill(INSTALL_SH, wheel=wheel.name, model=model.name,
                                       bookworm_constraints="".join(f"{c}\\n" for c in BOOKWORM_CONSTRAINTS)),
                   "run.sh": _fill(RUN_SH, model=model.name)}
        for name, text in scripts.items():
            (tmp / name).write_text(text)
            (tmp / name).chmod(0o755)
        (tmp / "digitlite-camera.service.in").write_text(SERVICE)
        files = sorted([*(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()), "README.txt"])
        accuracy = card.get("tflite_accuracy")
        (tmp / "README.txt").write_text(README.format(
            version=version, model=model.name, files=", ".join(files),
            accuracy=f" ({accuracy * 100:.2f} % on the MNIST test set)" if isinstance(accuracy, float) else ""))
        manifest = {"target": target, "digitlite": version, "wheel": wheel.name, "model": f"model/{model.name}",
                    "default_interpreter": "ai-edge-litert", "requirements": sorted(REQUIREMENTS),
                    "files": {f: sha256_file(tmp / f) for f in files}}
        (tmp / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
        sums = "".join(f"{sha256_file(tmp / f)}  {f}\n" for f in [*files, "bundle.json"])
        (tmp / "SHA256SUMS").write_text(sums)
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
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DigitliteError(f"{out}: cannot write the bundle ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
