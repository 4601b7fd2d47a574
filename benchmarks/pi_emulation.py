"""The edge runtime on a Raspberry Pi's architecture, under emulation, against the same commands on x86.

    python -m digitlite.benchmarks.pi_emulation                   # full test set, 100 images, a camera clip
    python -m digitlite.benchmarks.pi_emulation --samples 1000 --images 20
    python -m digitlite.benchmarks.pi_emulation --update-readme

What it builds (cached in ``--work``, default ``~/.cache/digitlite/pi``):

* the target: 64-bit Raspberry Pi OS Bookworm is Debian 12 arm64 with Python 3.11; its
  ``python3.11`` and libraries are unpacked from Debian's arm64 packages by
  ``mmdebstrap --variant=extract`` and run by ``qemu-aarch64-static`` (user mode) as a
  Cortex-A72, the Pi 4's core;
* the bundle a user copies to the Pi (``digitlite export --target pi``);
* for each interpreter (ai-edge-litert, tflite-runtime), the bundle's requirements file and
  its wheel installed for that target by pip on this machine
  (``--only-binary=:all: --python-version 3.11 --platform manylinux..._aarch64 --target``),
  and the same for this machine's own platform, so that both sides install the same way.

Then the same commands run on both sides: ``digitlite eval --predictions`` on the first
``--samples`` MNIST test images, ``classify --json`` on ``--images`` photos and drawings
(benchmarks.realworld's generator, seed 7) and ``camera --headless`` on a video of them;
every prediction and every output probability must be identical, or the command exits 1.

Traps found on the way (the emulation, not the Pi):

* ai-edge-litert 2.2 and later crash (SIGSEGV) creating an interpreter under qemu-user:
  its CPU detection parses /proc/cpuinfo, and qemu 7.2 passes the x86 host's file through.
  Each emulated command therefore runs in a private mount namespace with a Raspberry Pi 4's
  /proc/cpuinfo bound over the host's (``unshare``; root or user namespaces needed).
* Without binfmt_misc, qemu-user cannot run the console scripts pip writes (their ``#!``
  names an aarch64 python), so every command is ``python3.11 -S -m digitlite ...`` with the
  target folder on PYTHONPATH and a working folder outside the repository.
* tflite-runtime 2.14 needs NumPy 1; OpenCV's wheels from 4.11 need NumPy 2: the
  tflite-runtime requirements file pins both (edge/deploy/export.py).

Timings under emulation say nothing about a Pi's speed; they are printed, not published.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import build_set
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.deploy.export import export_bundle
from digitlite.edge.deploy.pi import BOOKWORM_CONSTRAINTS
from digitlite.edge.util import atomic
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.decode import load_image

MARKERS = ("<!-- pi-emulation:begin -->", "<!-- pi-emulation:end -->")
SUITE = "bookworm"
PYTHON_VERSION = "3.11"  # Bookworm's python3
# python3-numpy is unpacked only to read its version: the NumPy that Raspberry Pi OS's Picamera2 is
# built against, which install.sh keeps (see pi_constraints).
DEBIAN_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6", "libgcc-s1", "python3-numpy")
QEMU_CPU = "cortex-a72"  # Raspberry Pi 4; a Pi 5 is cortex-a76
# Every manylinux tag an aarch64 wheel of these packages uses; Bookworm's glibc is 2.36.
GLIBC_TAGS = ("2_17", "2_24", "2_26", "2_27", "2_28", "2_31", "2_34", "2_35", "2_36")
RUNTIMES = {"litert": "requirements.txt", "tflite": "requirements-tflite-runtime.txt"}
INTERPRETER_PACKAGES = {"litert": ("ai_edge_litert", "flatbuffers", "ml_dtypes", "protobuf", "google", "tqdm",
                                   "backports", "typing_extensions"),
                        "tflite": ("tflite_runtime",)}


def platform_tags(arch: str) -> list[str]:
    """pip ``--platform`` values covering the manylinux wheels for ``arch`` on glibc 2.36."""
    return [f"manylinux2014_{arch}"] + [f"manylinux_{g}_{arch}" for g in GLIBC_TAGS]


def pi_cpuinfo(cores: int) -> str:
    """A Raspberry Pi 4's /proc/cpuinfo (64-bit kernel) with ``cores`` processors."""
    block = ("processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
             "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
             "CPU revision\t: 3\n")
    return "\n".join(block.format(i=i) for i in range(cores)) + \
        "\nHardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n"


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise DigitliteError(f"{tool} not found: sudo apt-get install {package}")
    return path


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise DigitliteError(f"{what} failed (exit {result.returncode}): {tail[0]}")
    return result


def make_rootfs(work: Path) -> Path:
    """Debian 12 arm64's Python 3.11 and libraries, unpacked (cached; made atomically)."""
    packages = hashlib.sha256(",".join(DEBIAN_PACKAGES).encode()).hexdigest()[:8]
    root = work / f"rootfs-{SUITE}-arm64-{packages}"
    if (root / "usr/bin/python3.11").exists():
        return root
    _need("mmdebstrap", "mmdebstrap")
    tmp = Path(tempfile.mkdtemp(prefix=".rootfs.", dir=work))
    try:
        _run(["mmdebstrap", "--quiet", "--variant=extract", "--architectures=arm64",
              f"--include={','.join(DEBIAN_PACKAGES)}", SUITE, str(tmp / "root")], "mmdebstrap (Debian arm64 packages)")
        (tmp / "root").rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def debian_numpy(rootfs: Path) -> str:
    """The version of Debian 12's python3-numpy, from its unpacked metadata."""
    found = sorted((rootfs / "usr/lib/python3/dist-packages").glob("numpy-*.*-info"))
    if not found:
        raise DigitliteError(f"{rootfs}: python3-numpy's metadata not found")
    return found[0].name.split("-")[1].split(".egg")[0].split(".dist")[0]


def pi_constraints(system_numpy: str) -> list[str]:
    """What install.sh constrains on Bookworm with python3-picamera2 (hence python3-numpy) installed."""
    return [f"numpy=={system_numpy}", *BOOKWORM_CONSTRAINTS]


def install_site(work: Path, bundle: Path, arch: str, runtime: str, constraints: list[str] = ()) -> Path:
    """The bundle's requirements for ``runtime`` (under ``constraints``) and its wheel, installed for
    ``arch`` (cached)."""
    site = work / f"site-{arch}-{runtime}"
    stamp = site / ".bundle-sha256"
    wanted = (bundle / "SHA256SUMS").read_text() + "".join(f"constraint {c}\n" for c in constraints)
    if stamp.exists() and stamp.read_text() == wanted:
        return site
    shutil.rmtree(site, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".site-{arch}-{runtime}.", dir=work))
    target = ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
              *[a for tag in platform_tags(arch) for a in ("--platform", tag)], "--target", str(tmp)]
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    try:
        (tmp / ".constraints.txt").write_text("".join(f"{c}\n" for c in constraints))
        _run(pip + target + ["-r", str(bundle / RUNTIMES[runtime]), "-c", str(tmp / ".constraints.txt")],
             f"pip install for {arch} ({runtime})")
        wheel = next(bundle.glob("*.whl"))
        _run(pip + target + ["--no-deps", str(wheel)], f"pip install {wheel.name} for {arch}")
        (tmp / ".bundle-sha256").write_text(wanted)
        tmp.rename(site)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return site


class Side:
    """How to run ``python -m digitlite`` on one side: this machine, or the emulated Pi."""

    def __init__(self, arch: str, site: Path, rootfs: Path | None = None, cpuinfo: Path | None = None):
        self.arch, self.site, self.rootfs, self.cpuinfo = arch, site, rootfs, cpuinfo

    def command(self, args: list[str]) -> list[str]:
        """The full command line for ``digitlite ARGS``."""
        if self.rootfs is None:
            python = [sys.executable]
        else:
            qemu = shutil.which("qemu-aarch64-static") or _need("qemu-aarch64", "qemu-user-static")
            python = [qemu, "-L", str(self.rootfs), str(self.rootfs / "usr/bin/python3.11")]
            # a private mount namespace with a Pi's /proc/cpuinfo (see the module docstring)
            unshare = [_need("unshare", "util-linux"), "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
            python = unshare + ["sh", "-c", 'mount --bind "$0" /proc/cpuinfo && exec "$@"', str(self.cpuinfo)] + python
        return python + ["-S", "-m", "digitlite", *args]

    def env(self, data_dir: str | None) -> dict:
        """The environment: only the target folder on the path, the Pi's CPU for qemu."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(PYTHONPATH=str(self.site), PYTHONNOUSERSITE="1", QEMU_CPU=QEMU_CPU, PYTHONHASHSEED="0")
        if data_dir:
            env["DIGITLITE_DATA"] = data_dir
        return env

    def run(self, args: list[str], data_dir: str | None, cwd: Path) -> tuple[str, float]:
        """Run ``digitlite ARGS``; return (stdout, seconds). DigitliteError if it fails."""
        started = time.perf_counter()
        result = _run(self.command(args), f"{self.arch}: digitlite {args[0]}", env=self.env(data_dir), cwd=cwd,
                      timeout=3600)
        return result.stdout, time.perf_counter() - started


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def install_sizes(site: Path, runtime: str) -> dict:
    """MB on disk: everything installed, and the interpreter with its own dependencies."""
    interp = sum(_tree_bytes(site / name) for name in INTERPRETER_PACKAGES[runtime] if (site / name).is_dir())
    interp += sum((site / name).stat().st_size for name in os.listdir(site)
                  if name.endswith(".py") and name.removesuffix(".py") in INTERPRETER_PACKAGES[runtime])
    return {"installed_mb": round(_tree_bytes(site) / 1e6, 1), "interpreter_mb": round(interp / 1e6, 1)}


def make_inputs(work: Path, images: int, mnist_dir: str | None) -> tuple[Path, Path]:
    """Photos and drawings of digits (seed 7) and a 640x480 video of some of them."""
    folder = work / f"images-{images}"
    if not (folder / "labels.csv").exists():
        mnist = load_mnist(mnist_dir, test_only=True)
        build_set(folder, per_digit=max(1, images // 10), seed=7, mnist_images=mnist.test_images,
                  mnist_labels=mnist.test_labels)
    video = work / f"clip-{images}.avi"
    if not video.exists():
        # optional: OpenCV, the [camera] extra
        import cv2

        files = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))[:10]
        tmp = video.with_name(f".{video.name}.tmp.avi")
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
        for f in files:
            gray = np.asarray(load_image(f), np.float32)
            frame = cv2.resize(gray, (640, 480), interpolation=cv2.INTER_AREA).astype(np.uint8)
            for _ in range(2):
                writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        tmp.rename(video)
    return folder, video


def output_differences(x86: list, pi: list) -> dict:
    """How many images' probabilities differ between two runs, and by how much at most."""
    a, b = np.asarray(x86, np.float64), np.asarray(pi, np.float64)
    if a.shape != b.shape:
        return {"images": len(b), "max_abs": float("inf")}
    gap = np.abs(a - b)
    return {"images": int((gap.max(axis=1) > 0).sum()) if gap.size else 0, "max_abs": float(gap.max()) if gap.size else 0.0}


def compare(x86: dict, pi: dict, step: float) -> list[str]:
    """Every disagreement between the two sides (empty when they agree).

    Predictions must be identical everywhere. Output probabilities may differ by at most one
    output quantization ``step``: the int8 kernels for ARM and for x86 requantize with
    different (each exact) rounding schemes, so a value near a rounding boundary can land one
    step apart; anything more is a disagreement.
    """
    diffs = []
    ex, ep = x86["eval"], pi["eval"]
    if ex["predictions"] != ep["predictions"]:
        n = sum(a != b for a, b in zip(ex["predictions"], ep["predictions"]))
        diffs.append(f"eval: {n} of {len(ex['predictions'])} predictions differ")
    gap = output_differences(ex["probabilities"], ep["probabilities"])
    if gap["max_abs"] > step * 1.001:
        diffs.append(f"eval: probabilities differ by up to {gap['max_abs']:.4f}, more than one output step ({step})")
    cx, cp = x86["classify"], pi["classify"]
    if len(cx) != len(cp):
        diffs.append(f"classify: {len(cx)} results on x86, {len(cp)} on the Pi")
    for a, b in zip(cx, cp):
        if (a.get("digit"), a.get("error")) != (b.get("digit"), b.get("error")):
            diffs.append(f"classify: {Path(a['path']).name}: {a.get('digit')} on x86, {b.get('digit')} on the Pi")
    pairs = [(a["probabilities"], b["probabilities"]) for a, b in zip(cx, cp) if a.get("probabilities") and b.get("probabilities")]
    if pairs:
        gap = output_differences([a for a, _ in pairs], [b for _, b in pairs])
        if gap["max_abs"] > step * 1.001:
            diffs.append(f"classify: probabilities differ by up to {gap['max_abs']:.4f}, more than one output step")
    if x86["camera"] != pi["camera"]:
        diffs.append(f"camera: frames read {x86['camera']} on x86, {pi['camera']} on the Pi")
    return diffs


def run_side(side: Side, model: str, samples: int, images: Path, video: Path, data_dir: str | None, cwd: Path) -> dict:
    """eval, classify and camera on one side; outputs and wall times."""
    out, t_eval = side.run(["eval", model, "--samples", str(samples), "--json", "--predictions"], data_dir, cwd)
    report = json.loads(out)
    out, t_classify = side.run(["classify", str(images), "--model", model, "--json"], data_dir, cwd)
    classify = [json.loads(line) for line in out.splitlines() if line.strip()]
    out, t_camera = side.run(["camera", "--source", str(video), "--headless", "--model", model], data_dir, cwd)
    camera = [json.loads(line)["number"] for line in out.splitlines() if line.strip()]
    info, _ = side.run(["info", "--model", model, "--json", "--calls", "300", "--threads", "1"], data_dir, cwd)
    return {"eval": report, "classify": classify, "camera": camera, "info": json.loads(info),
            "seconds": {"eval": round(t_eval, 1), "classify": round(t_classify, 1), "camera": round(t_camera, 1)}}


def markdown(result: dict) -> str:
    """The README table."""
    lines = [
        f"Emulated: {result['target']}; compared with {result['host']}. Inputs: the first "
        f"{result['samples']:,} MNIST test images (`eval`), {result['images']} photos and drawings "
        f"(`classify`), a {result['frames']}-frame 640x480 video (`camera`). Both sides installed as `install.sh` "
        f"does on Bookworm with Picamera2 (and so Debian's python3-numpy) present: "
        f"{', '.join(f'`{c}`' for c in result.get('constraints', []))}.",
        "",
        "| interpreter and NumPy (versions on the Pi) | eval accuracy, Pi | eval predictions = x86 | eval outputs one step apart | classify = x86 (digits and probabilities) | camera = x86 | installed for the Pi (interpreter alone) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["runtimes"].items():
        gap = r["outputs_one_step_apart"]
        lines.append(
            f"| {r['package']} {r['version']}, NumPy {r['numpy']} | {r['accuracy'] * 100:.2f} % | "
            f"{r['predictions_identical']:,}/{result['samples']:,} | "
            f"{gap['images']} image{'s' if gap['images'] != 1 else ''} ({gap['max_abs']:.4f} at most) | "
            f"{r['classify_identical']}/{result['images']} | "
            f"{r['camera_identical']}/{result['frames']} frames | "
            f"{r['sizes']['installed_mb']:.0f} MB ({r['sizes']['interpreter_mb']:.1f} MB) |")
    calls = "; ".join(f"{r['package']} {r['call_p50_us_x86']:.0f} µs on x86, {r['call_p50_us_emulated']:,.0f} µs emulated"
                      for r in result["runtimes"].values())
    lines += ["", f"One interpreter call, one thread, median of 300 (`digitlite info --calls 300`): {calls}. "
                  "The emulated figure measures qemu, not a Pi."]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: build, run both sides, compare; exit 1 on any difference."""
    parser = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.pi_emulation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "digitlite" / "pi"),
                        help="cache folder for the arm64 root, installs and inputs")
    parser.add_argument("--model", help="the .tflite to deploy (default: the shipped int8 model)")
    parser.add_argument("--samples", type=int, default=10000, help="MNIST test images for eval")
    parser.add_argument("--images", type=int, default=100, help="photos and drawings for classify (a multiple of 10)")
    parser.add_argument("--runtime", choices=[*RUNTIMES, "both"], default="both")
    parser.add_argument("--data-dir", help="MNIST folder (default: $DIGITLITE_DATA, then the cache)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--update-readme", action=UpdateReadme, help="write the table into README.md")
    args = parser.parse_args(argv)
    try:
        result = measure(args)
    except DigitliteError as e:
        print(f"pi_emulation: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        publish("pi_emulation", result, markdown(result), MARKERS, readme=args.update_readme)
    failed = [name for name, r in result["runtimes"].items() if r["differences"]]
    for name in failed:
        print(f"pi_emulation: error: {name}: {'; '.join(result['runtimes'][name]['differences'])}", file=sys.stderr)
    return 1 if failed else 0


def measure(args) -> dict:
    """Build everything, run both sides for each interpreter, compare."""
    if args.samples < 1 or args.images < 10:
        raise DigitliteError("--samples must be at least 1 and --images at least 10")
    _need("qemu-aarch64-static", "qemu-user-static")
    work = Path(args.work).resolve()  # the commands run with the work folder as their cwd
    work.mkdir(parents=True, exist_ok=True)
    rootfs = make_rootfs(work)
    cpuinfo = work / "cpuinfo-pi4"
    atomic.write_bytes(cpuinfo, pi_cpuinfo(os.cpu_count() or 1).encode())
    bundle = work / "bundle"
    export_bundle(bundle, target="pi", model=args.model, force=True)
    model = str(next((bundle / "model").glob("*.tflite")))
    data_dir = args.data_dir or os.environ.get("DIGITLITE_DATA")
    data_dir = str(Path(data_dir).resolve()) if data_dir else None
    images, video = make_inputs(work, args.images, data_dir)
    cwd = work  # not the repository: `-m digitlite` must find the installed wheel, not the checkout
    host_arch = platform.machine()
    result = {"target": f"Debian 12 ({SUITE}) arm64, Python {PYTHON_VERSION}, qemu-aarch64 -cpu {QEMU_CPU} "
                        "(Raspberry Pi 4), a Pi 4's /proc/cpuinfo",
              "host": f"this machine ({host_arch}, Python {platform.python_version()})",
              "machine": machine(), "samples": args.samples, "images": len(list(images.glob("*.[jp][pn]g"))),
              "frames": 20, "runtimes": {}}
    constraints = pi_constraints(debian_numpy(rootfs))  # both sides, as install.sh on a Pi with Picamera2
    result["constraints"] = constraints
    for runtime in (RUNTIMES if args.runtime == "both" else [args.runtime]):
        pi = Side("aarch64", install_site(work, bundle, "aarch64", runtime, constraints), rootfs, cpuinfo)
        x86 = Side(host_arch, install_site(work, bundle, host_arch, runtime, constraints))
        outputs = {}
        for name, side in (("x86", x86), ("pi", pi)):
            print(f"{runtime}: {side.arch} ...", file=sys.stderr, flush=True)
            outputs[name] = run_side(side, model, args.samples, images, video, data_dir, cwd)
        info = outputs["pi"]["info"]
        if info["machine"] != "aarch64" or info["interpreter"] != runtime:
            raise DigitliteError(f"the emulated side ran {info['interpreter']} on {info['machine']}, "
                                 f"not {runtime} on aarch64")
        same = sum(1 for a, b in zip(outputs["x86"]["classify"], outputs["pi"]["classify"])
                   if (a.get("digit"), a.get("probabilities")) == (b.get("digit"), b.get("probabilities")))
        step = float(info["output"]["scale"]) or 1e-6
        result["frames"] = len(outputs["pi"]["camera"])
        result["runtimes"][runtime] = {
            "package": {"litert": "ai-edge-litert", "tflite": "tflite-runtime"}[runtime],
            "version": info["interpreter_version"], "numpy": info["numpy"],
            "accuracy": outputs["pi"]["eval"]["accuracy"],
            "probabilities_sha256": outputs["pi"]["eval"]["probabilities_sha256"],
            "differences": compare(outputs["x86"], outputs["pi"], step),
            "predictions_identical": sum(a == b for a, b in zip(outputs["x86"]["eval"]["predictions"],
                                                                outputs["pi"]["eval"]["predictions"])),
            "outputs_one_step_apart": output_differences(outputs["x86"]["eval"]["probabilities"],
                                                         outputs["pi"]["eval"]["probabilities"]),
            "output_step": step,
            "classify_identical": same,
            "camera_identical": sum(a == b for a, b in zip(outputs["x86"]["camera"], outputs["pi"]["camera"])),
            "camera_numbers_pi": outputs["pi"]["camera"],
            "sizes": install_sizes(pi.site, runtime),
            "seconds_x86": outputs["x86"]["seconds"], "seconds_emulated": outputs["pi"]["seconds"],
            "call_p50_us_x86": outputs["x86"]["info"]["call_p50_us"],
            "call_p50_us_emulated": info["call_p50_us"],
        }
        print(f"{runtime}: x86 {outputs['x86']['seconds']}, emulated Pi {outputs['pi']['seconds']} (wall s)",
              file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(run_main(main))
