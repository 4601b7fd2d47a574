"""``digitlite export --target web``: the draw-a-digit page as a static folder, reading in the browser.

The folder holds the page (the same pad and answer as ``digitlite serve``), its preprocessing in
JavaScript (``web/preprocess.js``, a port of ``preprocess.py``'s one-digit path), the int8 model's
batch-1 twin and the part of LiteRT.js the page loads: its ES module, the small helper module it
imports, and its two single-threaded WebAssembly builds (relaxed SIMD, which current Chrome, Edge
and Firefox take, and the compatible one for the others, Safari among them). The threaded and JSPI
builds are left out: they need cross-origin isolation or flags that a static host does not give.
Any static file server will do; nothing is fetched from another host and nothing is sent anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from digitlite.edge.apps.page import page
from digitlite.edge.deploy import npm
from digitlite.edge.deploy.bundle import (
    check_out,
    export_folder,
    package_version,
    write_manifest,
)
from digitlite.edge.deploy.npm import Package, fetch, read_members
from digitlite.edge.runtime.card import ModelCard, card_path
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_web_model, web_root
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.lines import samples

LITERT = Package("@litertjs/core", "2.5.3",
                 "sha512-PlGmbMOq9WitX7FO0jhbdJw9GthatsyuCQXjTt/wJZo0FLaw48q4tz8IwqgqCIkviYGr9OFDL1kCnN4nzWoyJQ==")
WASM_UTILS = Package("@litertjs/wasm-utils", "2.5.3",  # @litertjs/core's one dependency
                     "sha512-4fJiw6tBQnIs+0jH/OQ16nYOiSl8/+zZnn5h2ul8aTKHi05sVqZW580Tmk78pC2kT39A9OYBVdFawteZ/sI1kQ==")
# what the page loads of each package, and where it goes in the folder
RUNTIME_FILES = {
    LITERT: {"dist/index.js": "litert/core/index.js", "package.json": "litert/core/package.json",
             **{f"wasm/litert_wasm{build}_internal.{ext}": f"litert/wasm/litert_wasm{build}_internal.{ext}"
                for build in ("", "_compat") for ext in ("js", "wasm")}},
    WASM_UTILS: {"dist/index.js": "litert/wasm-utils/index.js", "package.json": "litert/wasm-utils/package.json"},
}
PAGE_FILES = ("style.css", "pad.js", "preprocess.js", "views.js", "local.js")
SERVICE_WORKER = "sw.js"  # keeps what the page loaded for offline use; named after the export's contents
IMPORT_MAP = {"imports": {"@litertjs/core": "./litert/core/index.js",
                          "@litertjs/wasm-utils": "./litert/wasm-utils/index.js"}}
PAGE_IO = ("uint8", "float32")
PAD_SIDE = 280  # the pad's canvas, width and height (edge/web/index.html)
SAMPLE_FILE = "pad-sample.bin"  # what LiteRT.js's WebAssembly path takes in and gives out (not int8)

README = """digitlite's draw-a-digit page, reading in the browser ({version}): model {model}{accuracy}

Serve this folder with any static file server and open it, for example:
    python3 -m http.server --directory . 8000     then http://localhost:8000/
or copy it to a static host (GitHub Pages, a bucket, nginx). Opened as a file (file://) it
cannot load: browsers do not run module scripts or WebAssembly fetched from files.
Once loaded over https (or from localhost), the page opens and reads offline too: sw.js, a
service worker, keeps the files it loaded.

The drawing never leaves the browser: preprocess.js makes the model's 28x28 input, views.js its
seven views (as digitlite reads a digit: moved a pixel each way, turned 6 degrees each way), LiteRT.js
{litert} (WebAssembly, CPU) runs {model} on each, the int8 model digitlite ships for the
Raspberry Pi with its batch fixed at 1, and views.js pools the answers. The browser loads one of the two WebAssembly builds (about
9.4 MB, 2.8 MB compressed): litert_wasm_internal.wasm where it has relaxed SIMD, else
litert_wasm_compat_internal.wasm. Ask your server to compress .wasm and .js files (gzip or brotli).

LiteRT.js: Apache-2.0, https://www.npmjs.com/package/@litertjs/core (litert/core/package.json).
Files: {files}; bundle.json and SHA256SUMS list them with their SHA-256.
"""


def save_runtime(folder: str | os.PathLike) -> list[Path]:
    """Put the verified LiteRT.js tarballs in ``folder`` under ``npm pack``'s names (what
    ``--runtime-dir`` takes): for carrying to an offline machine, or for the tests."""

    return npm.save(list(RUNTIME_FILES), folder)


def web_model(model: Path | None):
    """The model the page runs and its loaded interpreter: ``model`` (default: the shipped twin) if
    its batch is fixed at 1, else its ``_b1`` twin beside it."""

    model = model or default_web_model()
    lite = Model(model)  # a digit classifier, or one line saying why not
    if lite.fixed_batch == 1:
        return model, lite
    twin = model.with_name(f"{model.stem}_b1.tflite")
    if twin.is_file():
        return twin, Model(twin)
    raise DigitliteError(f"{model}: its batch is not fixed at 1, which LiteRT.js needs, and there is no {twin.name} "
                         "beside it (digitlite quantize writes it next to the int8 model)")


def pad_sample() -> bytes:
    """Which pixels of the pad preprocess.py takes its ink statistics from (``lines.samples``: a fixed
    pseudo-random quarter), one bit each, row by row: preprocess.js reads it to threshold as Python does."""

    chosen = np.zeros(PAD_SIDE * PAD_SIDE, bool)
    chosen[samples(PAD_SIDE, PAD_SIDE)] = True
    return np.packbits(chosen).tobytes()


def _page_html(config: dict) -> str:
    """The page (``apps.page``) as static files: relative, self-contained, the digit read in the browser
    (the import map, the model's settings and the page's own script)."""
    scripts = "\n".join([
        f'<script type="application/json" id="config">{json.dumps(config)}</script>',
        f'<script type="importmap">{json.dumps(IMPORT_MAP)}</script>',
        # a page opened as a file cannot load modules or WebAssembly: say so instead of a blank pad
        '<script>if (location.protocol === "file:") document.getElementById("status").textContent = '
        '"open this page through a web server (python3 -m http.server in its folder), not as a file";</script>',
        '<script type="module" src="./local.js"></script>',
    ])
    return page("./style.css", "Read in this browser: nothing is sent anywhere.", scripts)


def export_web(out: str | os.PathLike, model: str | os.PathLike | None = None, force: bool = False,
               runtime_dir: str | os.PathLike | None = None, min_confidence: float = 0.0) -> dict:
    """Write the static page for ``model`` into the folder ``out``; return its manifest.

    LiteRT.js comes from ``runtime_dir`` (the tarballs ``npm pack`` writes), else the user cache,
    else the npm registry, checked against its pinned integrity either way.  Built in a temp
    folder beside ``out`` and renamed into place, like the other targets.
    """

    out = Path(out)
    check_out(out, force)
    if not 0.0 <= min_confidence <= 1.0:
        raise DigitliteError(f"--min-confidence must be between 0 and 1, got {min_confidence}")
    model, lite = web_model(Path(model) if model else None)
    desc = lite.describe()
    if lite.fixed_batch != 1:
        raise DigitliteError(f"{model}: its batch is not fixed at 1, which LiteRT.js needs")
    if desc["input"]["dtype"] not in PAGE_IO or desc["output"]["dtype"] not in PAGE_IO:
        raise DigitliteError(f"{model}: {desc['input']['dtype']} in, {desc['output']['dtype']} out; LiteRT.js in a "
                             "browser takes uint8 or float32 (digitlite quantize --io-type uint8, the default)")
    card = ModelCard.of(model, required=False)  # a card that is there must be this model's
    tarballs = fetch([LITERT, WASM_UTILS], runtime_dir)
    runtime = {dest: data for package, files in RUNTIME_FILES.items()
               for dest, data in zip(files.values(), read_members(tarballs[package], list(files)).values())}
    config = {"model": model.name, "sample": SAMPLE_FILE, "runtime": f"LiteRT.js {LITERT.version}",
              "min_confidence": min_confidence, "input": desc["input"], "output": desc["output"]}
    version = package_version()
    with export_folder(out, force, "page") as tmp:
        (tmp / "index.html").write_text(_page_html(config))
        for name in PAGE_FILES:
            shutil.copyfile(web_root() / name, tmp / name)
        shutil.copyfile(model, tmp / model.name)
        (tmp / SAMPLE_FILE).write_bytes(pad_sample())
        if card:
            shutil.copyfile(card_path(model), tmp / card_path(model).name)
        for dest, data in runtime.items():
            (tmp / dest).parent.mkdir(parents=True, exist_ok=True)
            (tmp / dest).write_bytes(data)
        export_id = hashlib.sha256("".join(f"{p.relative_to(tmp).as_posix()} {sha256_file(p)}\n" for p in
                                           sorted(tmp.rglob("*")) if p.is_file()).encode()).hexdigest()[:16]
        (tmp / SERVICE_WORKER).write_text((web_root() / SERVICE_WORKER).read_text().replace("{export_id}", export_id))
        files = sorted([*(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()), "README.txt"])
        (tmp / "README.txt").write_text(README.format(
            version=version, model=model.name, litert=LITERT.version, files=", ".join(files),
            accuracy=f" ({card.tflite_accuracy * 100:.2f}% on the MNIST test set)" if card else ""))
        manifest = {"target": "web", "digitlite": version, "model": model.name, "sha256": sha256_file(model),
                    "runtime": {p.name: p.version for p in RUNTIME_FILES}, "min_confidence": min_confidence,
                    "files": {f: sha256_file(tmp / f) for f in files}}
        write_manifest(tmp, manifest)
    return manifest
