"""`digitlite export --target web`: the static page under LiteRT.js, in a real browser, offline,
its preprocessing against Python's, and every way of getting the runtime wrong."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    DRAWN,
    REPO,
    assert_one_line_error,
    chromium_page,
    draw_digit,
    run_cli,
    static_server,
)
from PIL import Image

RUNTIME = REPO / ".npm"  # tests/prepare.sh puts the verified LiteRT.js tarballs here
SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"
TWIN = REPO / "edge" / "models" / "digits_int8_b1.tflite"
# What the folder holds: the page, the model, the two single-threaded WebAssembly builds, nothing else.
FILES = {"index.html", "style.css", "pad.js", "preprocess.js", "views.js", "local.js", "sw.js", "pad-sample.bin",
         "digits_int8_b1.tflite", "digits_int8_b1.json", "README.txt", "bundle.json", "SHA256SUMS",
         "litert/core/index.js", "litert/core/package.json", "litert/wasm-utils/index.js",
         "litert/wasm-utils/package.json", "litert/wasm/litert_wasm_internal.js",
         "litert/wasm/litert_wasm_internal.wasm", "litert/wasm/litert_wasm_compat_internal.js",
         "litert/wasm/litert_wasm_compat_internal.wasm"}


def export(out: Path, *args: str, env: dict | None = None):
    return run_cli("export", "--target", "web", str(out), *args, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    assert RUNTIME.is_dir(), "run tests/prepare.sh first (it fetches the LiteRT.js tarballs into .npm)"
    out = tmp_path_factory.mktemp("web") / "site"
    result = export(out, "--runtime-dir", str(RUNTIME))
    assert result.returncode == 0, result.stderr
    assert "python3 -m http.server" in result.stdout
    return out


def open_page(page, url: str) -> list:
    """Load the page until its model is ready; return the list its page errors go to."""
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready", timeout=120_000)
    assert page.evaluate("document.body.dataset.ready") == "yes", page.inner_text("#status")
    return errors


# --- the folder ----------------------------------------------------------------------------------------

def test_the_folder_holds_the_page_the_twin_model_and_only_the_runtime_it_loads(site):
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert files == FILES
    manifest = json.loads((site / "bundle.json").read_text())
    assert manifest["target"] == "web" and manifest["runtime"] == {"@litertjs/core": "2.5.3",
                                                                   "@litertjs/wasm-utils": "2.5.3"}
    assert (site / "digits_int8_b1.tflite").read_bytes() == TWIN.read_bytes()
    for line in (site / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((site / name).read_bytes()).hexdigest() == digest, name
    # the runtime's files are the published tarball's, byte for byte
    import tarfile

    with tarfile.open(RUNTIME / "litertjs-core-2.5.3.tgz") as tar:
        wasm = tar.extractfile("package/wasm/litert_wasm_internal.wasm").read()
    assert (site / "litert/wasm/litert_wasm_internal.wasm").read_bytes() == wasm
    html = (site / "index.html").read_text()
    for element in ('id="pad"', 'id="clear"', 'id="digit"', 'type="importmap"', "./litert/core/index.js"):
        assert element in html
    assert "/static/" not in html and not re.search(r'(src|href)="(https?:)?//', html)  # relative: no other host
    # a second export of the same sources is the same folder
    again = site.parent / "again"
    assert export(again, "--runtime-dir", str(RUNTIME)).returncode == 0
    assert (again / "SHA256SUMS").read_text() == (site / "SHA256SUMS").read_text()


def test_pad_sample_is_pythons_threshold_sample():
    from digitlite.edge.deploy.web import PAD_SIDE, pad_sample
    from digitlite.edge.vision.lines import samples

    bits = np.unpackbits(np.frombuffer(pad_sample(), np.uint8))[: PAD_SIDE * PAD_SIDE]
    np.testing.assert_array_equal(np.flatnonzero(bits), samples(PAD_SIDE, PAD_SIDE))


# --- in Chromium -------------------------------------------------------------------------------------------

def test_chromium_reads_drawn_digits_in_the_page_alone_and_again_offline(site, tmp_path):
    """Real pointer strokes on the exported page served by python -m http.server: the digits are read
    right, nothing is POSTed or asked of another host, no page error; with the server stopped, the
    page reloads from its service worker and still reads."""
    requests = []
    with static_server(site) as (url, server), chromium_page() as page:
        page.on("request", lambda r: requests.append((r.method, r.url)))
        errors = open_page(page, url)
        status = page.inner_text("#status")
        assert "LiteRT.js 2.5.3" in status and "WebAssembly" in status and "nothing is sent" in status
        read = {k: draw_digit(page, *k) for k in DRAWN}
        assert "read in this browser" in page.inner_text("#status")
        page.screenshot(path=str(tmp_path / "page.png"))
        page.wait_for_function("document.body.dataset.offline", timeout=60_000)
        assert page.evaluate("document.body.dataset.offline") == "yes"
        loaded = {u for m, u in requests}
        server.terminate()
        server.wait()
        page.reload()
        page.wait_for_function("document.body.dataset.ready", timeout=120_000)
        assert page.evaluate("document.body.dataset.ready") == "yes"
        offline = {k: draw_digit(page, *k) for k in ((3, 0), (8, 0))}
    assert read == {k: str(k[0]) for k in read}, read
    assert offline == {(3, 0): "3", (8, 0): "8"}
    assert not errors, errors
    assert {m for m, _ in requests} == {"GET"}
    assert all(u.startswith(url) for _, u in requests), [u for _, u in requests if not u.startswith(url)]
    # one WebAssembly build of the two, and not the threaded or JSPI ones
    assert sum(u.endswith(".wasm") for u in loaded) == 1 and url + "digits_int8_b1.tflite" in loaded
    assert (tmp_path / "page.png").stat().st_size > 5000


# LiteRT.js probes relaxed SIMD by instantiating a tiny module (its only probe here): failing it is
# what a browser without relaxed SIMD (Safari) does.
NO_RELAXED_SIMD = """
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = function (source, imports) {
  if (source instanceof Uint8Array && source.length < 200) {
    return Promise.reject(new WebAssembly.CompileError("relaxed SIMD: not in this browser"));
  }
  return instantiate.call(this, source, imports);
};
"""


def test_a_browser_without_relaxed_simd_loads_the_compatible_build_and_reads(site):
    wasm = []
    with static_server(site) as (url, _), chromium_page() as page:
        page.add_init_script(NO_RELAXED_SIMD)
        page.on("request", lambda r: wasm.append(r.url.rsplit("/", 1)[-1]) if r.url.endswith(".wasm") else None)
        errors = open_page(page, url)
        read = {d: draw_digit(page, d) for d in (2, 5, 9)}
    assert wasm == ["litert_wasm_compat_internal.wasm"] and not errors
    assert read == {2: "2", 5: "5", 9: "9"}


def test_opened_as_a_file_the_page_says_to_serve_it(site):
    """Browsers do not run module scripts or WebAssembly from file://: a sentence, not a dead pad."""
    with chromium_page() as page:
        page.goto(site.joinpath("index.html").as_uri())
        page.wait_for_function("document.getElementById('status').textContent.length > 0")
        assert "through a web server" in page.inner_text("#status")
        assert "python3 -m http.server" in page.inner_text("#status")


def _canvas_png(ink: np.ndarray) -> bytes:
    """Float ink 0..1 (256x256) as the pad holds it: #111 on white, 280x280, opaque."""
    canvas = np.full((280, 280), 255.0)
    canvas[12:268, 12:268] = 255 - ink * 238
    gray = np.rint(canvas).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), "RGBA").save(buf, "PNG")
    return buf.getvalue()


# Every image: drawn on a canvas, read by preprocess.js and the page's model, and the canvas's PNG kept.
PARITY_JS = """async (names) => {
  const c = document.createElement('canvas'); c.width = 280; c.height = 280;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  const out = [];
  for (const name of names) {
    const bmp = await createImageBitmap(await (await fetch(name)).blob());
    ctx.drawImage(bmp, 0, 0);
    let input = null, error = null, probs = null;
    try { input = Array.from(window.digitlite.toInput(ctx.getImageData(0, 0, 280, 280))); }
    catch (e) { error = e.message; }
    let views = null, pooled = null;
    if (input) {
      probs = await window.digitlite.probabilities(input);
      views = window.digitlite.views(input).map((v) => Array.from(v));
      pooled = await window.digitlite.read(input);
    }
    out.push({png: c.toDataURL('image/png'), input, error, probs, views, pooled});
  }
  return out;
}"""


def test_the_pages_preprocessing_and_model_give_what_python_gives(site, mnist, tmp_path):
    """400 drawings (pen strokes of every size, slant and width; enlarged MNIST digits), a blank pad,
    a speck and two digits side by side: preprocess.js makes the input that serve's Python makes from
    the same canvas saved as a PNG, and LiteRT.js in the page gives the probabilities LiteRT gives here;
    views.js makes the seven views runtime.views makes, and the page's reading pools them as Python does."""
    from digitlite.benchmarks.realworld import mnist_digit, stroke_digit
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.views import Viewed, views
    from digitlite.edge.vision.decode import WORK_SIDE, load_image
    from digitlite.edge.vision.errors import ImageError, SeveralDigits
    from digitlite.edge.vision.preprocess import preprocess_gray

    folder = tmp_path / "site"
    shutil.copytree(site, folder)
    rng = np.random.default_rng(7)
    inks = [stroke_digit(i % 10, rng) if i % 2 == 0 else mnist_digit(mnist.test_images[i]) for i in range(400)]
    blank, speck, pair = np.zeros((256, 256)), np.zeros((256, 256)), np.zeros((256, 256))
    speck[120:126, 130:135] = 1
    pair[:, :128] = stroke_digit(1, rng)[:, ::2]
    pair[:, 128:] = stroke_digit(7, rng)[:, ::2]
    inks += [blank, speck, pair]
    for i, ink in enumerate(inks):
        (folder / f"d{i}.png").write_bytes(_canvas_png(ink))
    with static_server(folder) as (url, _), chromium_page() as page:
        open_page(page, url)
        results = page.evaluate(PARITY_JS, [f"d{i}.png" for i in range(len(inks))])
    model = Model(TWIN)
    viewed = Viewed(model)
    worst, same_prediction, same_output, same_views, worst_pooled = 0, 0, 0, 0, 0.0
    for r in results[:400]:
        png = base64.b64decode(r["png"].split(",", 1)[1])
        py = preprocess_gray(load_image(png, "drawing", side=WORK_SIDE), "drawing", one_digit=True)
        assert r["error"] is None and r["input"] is not None
        js = np.array(r["input"], np.uint8).reshape(28, 28)
        worst = max(worst, int(np.abs(js.astype(int) - py.astype(int)).max()))
        p_py, p_js = model.predict_proba(py)[0], model.predict_proba(js)[0]
        same_prediction += int(p_py.argmax() == p_js.argmax())
        same_output += int(np.array_equal(np.array(r["probs"], np.float32), p_js))
        same_views += int(np.array_equal(np.array(r["views"], np.uint8).reshape(7, 28, 28), views(js)[0]))
        worst_pooled = max(worst_pooled, float(np.abs(np.array(r["pooled"]) - viewed.predict_proba(js)[0]).max()))
    assert worst <= 2, worst  # gray levels, any pixel of any of the 400 inputs (measured: 0)
    assert same_prediction == 400 and same_output == 400 and same_views == 400
    assert worst_pooled < 1e-6, worst_pooled  # float32 against float64: the same reading
    # what neither reads as one digit, both refuse
    for r, kind in zip(results[400:], (ImageError, ImageError, SeveralDigits)):
        with pytest.raises(kind):
            preprocess_gray(load_image(base64.b64decode(r["png"].split(",", 1)[1]), "d", side=WORK_SIDE), "d",
                            one_digit=True)
    assert [r["error"] for r in results[400:]] == ["no digit found: draw one", "no digit found: draw one",
                                                   "2 digits side by side: draw one digit at a time"]


def test_min_confidence_makes_an_unsure_drawing_a_question_mark(tmp_path):
    out = tmp_path / "site"
    assert export(out, "--runtime-dir", str(RUNTIME), "--min-confidence", "1.0").returncode == 0
    with static_server(out) as (url, _), chromium_page() as page:
        open_page(page, url)
        shown = draw_digit(page, 4, 1)
        status = page.inner_text("#status")
    assert shown == "?" and "not sure enough" in status


# --- getting the runtime ---------------------------------------------------------------------------------

@contextmanager
def registry(files: dict[str, bytes]):
    """A stand-in npm registry on loopback serving ``files`` (path -> bytes): its URL."""
    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _registry_files(core: bytes | None = None) -> dict[str, bytes]:
    return {"/@litertjs/core/-/core-2.5.3.tgz": core or (RUNTIME / "litertjs-core-2.5.3.tgz").read_bytes(),
            "/@litertjs/wasm-utils/-/wasm-utils-2.5.3.tgz": (RUNTIME / "litertjs-wasm-utils-2.5.3.tgz").read_bytes()}


def test_downloaded_once_checked_and_cached(tmp_path):
    """From the registry into an empty cache; the next export needs no registry at all."""
    cache = tmp_path / "cache"
    with registry(_registry_files()) as url:
        first = export(tmp_path / "a", env={"XDG_CACHE_HOME": str(cache), "DIGITLITE_NPM_REGISTRY": url})
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (cache / "digitlite" / "npm").iterdir()) == [
        "litertjs-core-2.5.3.tgz", "litertjs-wasm-utils-2.5.3.tgz"]
    again = export(tmp_path / "b", env={"XDG_CACHE_HOME": str(cache), "DIGITLITE_NPM_REGISTRY": "http://127.0.0.1:9"})
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a" / "SHA256SUMS").read_text() == (tmp_path / "b" / "SHA256SUMS").read_text()


def test_offline_without_a_copy_is_one_line_naming_runtime_dir(tmp_path):
    result = export(tmp_path / "out", env={"XDG_CACHE_HOME": str(tmp_path / "empty"),
                                           "DIGITLITE_NPM_REGISTRY": "http://127.0.0.1:9"})
    assert_one_line_error(result, "cannot download @litertjs/core@2.5.3", "offline?", "--runtime-dir", "npm pack")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_a_tampered_download_is_refused_and_not_cached(tmp_path):
    good = (RUNTIME / "litertjs-core-2.5.3.tgz").read_bytes()
    with registry(_registry_files(core=good[:-10] + b"0123456789")) as url:
        result = export(tmp_path / "out", env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "DIGITLITE_NPM_REGISTRY": url})
    assert_one_line_error(result, "is not @litertjs/core@2.5.3 as published", "nothing was used")
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache" / "digitlite" / "npm" /
                                                    "litertjs-core-2.5.3.tgz").exists()


@pytest.mark.parametrize("damage, fragment", [
    ("missing", "no litertjs-core-2.5.3.tgz in it"),
    ("tampered", "not @litertjs/core@2.5.3 as published on npm"),
    ("no-folder", "no such folder (--runtime-dir)"),
])
def test_a_bad_runtime_dir_is_one_line(tmp_path, damage, fragment):
    folder = tmp_path / "runtime"
    if damage != "no-folder":
        folder.mkdir()
        shutil.copy(RUNTIME / "litertjs-wasm-utils-2.5.3.tgz", folder)
    if damage == "tampered":
        data = bytearray((RUNTIME / "litertjs-core-2.5.3.tgz").read_bytes())
        data[1000] ^= 1
        (folder / "litertjs-core-2.5.3.tgz").write_bytes(bytes(data))
    result = export(tmp_path / "out", "--runtime-dir", str(folder))
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()


# --- the model ---------------------------------------------------------------------------------------------

def test_a_model_with_a_dynamic_batch_brings_its_twin_or_is_refused(tmp_path, quantized):
    out, _ = quantized
    result = export(tmp_path / "trained", "--runtime-dir", str(RUNTIME), "--model", str(out / "digits_int8.tflite"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "trained" / "bundle.json").read_text())["model"] == "digits_int8_b1.tflite"
    assert (tmp_path / "trained" / "digits_int8_b1.tflite").read_bytes() == (out / "digits_int8_b1.tflite").read_bytes()
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(SHIPPED, alone)
    result = export(tmp_path / "x", "--runtime-dir", str(RUNTIME), "--model", str(alone / SHIPPED.name))
    assert_one_line_error(result, "its batch is not fixed at 1", "no digits_int8_b1.tflite beside it")
    result = export(tmp_path / "y", "--runtime-dir", str(RUNTIME), "--model", str(out / "digits_float32.tflite"))
    assert_one_line_error(result, "no digits_float32_b1.tflite beside it")


def test_an_int8_io_model_is_refused_for_the_browser(tmp_path, monkeypatch):
    """LiteRT.js's WebAssembly path takes uint8 or float32, not int8, in and out."""
    from digitlite.edge.deploy import web as browser
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.util.errors import DigitliteError

    real = Model.describe

    def as_int8(self):
        desc = real(self)
        desc["input"] = {**desc["input"], "dtype": "int8", "zero_point": -128}
        return desc

    monkeypatch.setattr(Model, "describe", as_int8)
    with pytest.raises(DigitliteError, match="int8 in, uint8 out; LiteRT.js in a browser takes uint8 or float32"):
        browser.export_web(tmp_path / "out", TWIN, runtime_dir=RUNTIME)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case, fragment", [
    ("not-tflite", "not a valid TFLite model"),
    ("missing", "no such model file"),
    ("other-card", "not this model's card"),
])
def test_a_wrong_model_is_one_line(tmp_path, case, fragment):
    model = tmp_path / "m_b1.tflite"
    if case == "not-tflite":
        model.write_bytes(b"<html>not a model</html>")
    elif case == "other-card":
        shutil.copy(TWIN, model)
        shutil.copy(SHIPPED.with_suffix(".json"), model.with_suffix(".json"))
    result = export(tmp_path / "out", "--runtime-dir", str(RUNTIME), "--model", str(model))
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()


def test_an_occupied_folder_is_kept_unless_forced(site, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert_one_line_error(export(out, "--runtime-dir", str(RUNTIME)), "folder is not empty", "--force")
    assert (out / "mine.txt").read_text() == "keep me"
    assert export(out, "--runtime-dir", str(RUNTIME), "--force").returncode == 0
    assert not (out / "mine.txt").exists() and (out / "index.html").is_file()


def test_the_served_page_and_the_static_page_are_one_template(site):
    """Both pages are the package's index.html with its placeholders filled: the same markup but for the
    stylesheet's address, the hint and the scripts; the template itself is never served raw."""
    from digitlite.edge.apps.page import served_page

    def markup(html: str) -> list[str]:
        return [line for line in html.splitlines() if "<script" not in line and "stylesheet" not in line
                and 'class="hint"' not in line and "json" not in line]

    served, static = served_page(), (site / "index.html").read_text()
    assert "$" not in served and "$" not in static
    assert markup(served) == markup(static) and len(markup(served)) > 15
    assert 'rel="icon"' in served and 'rel="icon"' in static  # no request for /favicon.ico from either


def test_the_page_logs_no_errors_litert_info_lines_are_debug(site):
    """LiteRT.js's C++ INFO lines (about 15) used to reach the console as errors; they are debug lines now,
    its NPU note a warning, and nothing the page does logs an error."""
    messages = []
    with static_server(site) as (url, _), chromium_page() as page:
        page.on("console", lambda m: messages.append((m.type, m.text)))
        open_page(page, url)
        page.wait_for_timeout(300)
    errors = [text for kind, text in messages if kind == "error"]
    assert errors == [], errors
    info = [kind for kind, text in messages if text.startswith("INFO: ")]
    assert len(info) >= 5 and set(info) == {"debug"}
