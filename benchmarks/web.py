"""The draw-a-digit page in a browser: the exported static page (LiteRT.js) beside `digitlite serve`.

    python -m digitlite.benchmarks.web [--loads 5] [--drawings 24] [--runtime-dir .npm] [--update-readme]

Exports the page (`digitlite export --target web`) and serves it with `python -m http.server`;
starts `digitlite serve` with the shipped model. Debian's Chromium, headless and driven by
Playwright, opens each page ``--loads`` times in a fresh profile (nothing cached) and draws digits
on its pad with real pointer strokes. Reported for each page:

* weight: every byte the first load transfers, as sent (http.server and serve do not compress)
  and gzipped (-6, as a compressing server would send each file); per drawing, what goes over the
  network (serve: the PNG and the JSON answer of each stroke; the static page: nothing);
* time to the first prediction: from navigation to the page being able to answer (static page:
  LiteRT.js and the model loaded and compiled, its timing calls done; serve: the load event), plus
  the first drawing's answer (pen lifted to digit shown); median over the loads;
* a drawing to its answer (pen lifted to digit shown; static page: preprocess.js + a model call,
  serve: PNG encoding, the POST, the server's preprocessing and model call), p50 and p90;
* one model call: in the page, LiteRT.js's WebAssembly (the median of 5 rounds of 400 calls timed
  together, the input tensor made and the output read each time, as the page does:
  `performance.now()` is coarse without cross-origin isolation); for serve, the Python
  interpreter's call on the same machine (p50).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from digitlite.benchmarks.common import ROOT, UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import TEMPLATES
from digitlite.benchmarks.serve import server_process
from digitlite.edge.deploy.web import export_web
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.errors import DigitliteError

MARKERS = ("<!-- web-results:begin -->", "<!-- web-results:end -->")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
DRAWN = ((0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (4, 1), (5, 0), (6, 0), (7, 0), (7, 1), (8, 0), (9, 0))
PAD_BOX = (0.15, 0.1, 0.7, 0.8)  # where a template's unit square lands on the pad: x, y, width, height


def draw_digit(page, digit: int, style: int = 0) -> str:
    """Clear #pad, draw a digit from the stroke templates with real pointer events, and return what
    #digit shows once the page has answered for the whole drawing (serve's page or the exported one:
    both have #pad, #clear, #digit and body[data-asked/answered])."""

    box = page.locator("#pad").bounding_box()
    page.click("#clear")
    for stroke in TEMPLATES[digit][style]:
        points = [(box["x"] + (PAD_BOX[0] + PAD_BOX[2] * x) * box["width"],
                   box["y"] + (PAD_BOX[1] + PAD_BOX[3] * y) * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for pt in points[1:]:
            page.mouse.move(*pt, steps=2)
        page.mouse.up()
    page.wait_for_function("document.body.dataset.asked && "
                           "document.body.dataset.answered === document.body.dataset.asked")
    return page.inner_text("#digit")


@contextmanager
def static_server(folder: Path):
    """``python -m http.server`` serving ``folder`` on a free loopback port: yields (base URL, process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(folder),
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30  # how long to wait before giving up, not a timing claim
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise DigitliteError(f"python -m http.server did not start on port {port}") from None
                time.sleep(0.05)
        # "localhost", not 127.0.0.1: the origin where a service worker needs no https
        yield f"http://localhost:{port}/", proc
    finally:
        proc.terminate()
        proc.wait()


def _weight(responses: list) -> dict:
    """Bytes of the responses' bodies, as sent and gzipped, and how many."""
    bodies = []
    for response in responses:
        try:
            bodies.append(response.body())
        except Exception:  # noqa: BLE001 (a redirect or a cancelled request has no body)
            continue
    return {"requests": len(bodies), "bytes": sum(len(b) for b in bodies),
            "gzip_bytes": sum(len(gzip.compress(b, 6)) for b in bodies)}


def measure_page(browser, url: str, wait: str, ready: str, loads: int, drawings: int, timer=None) -> dict:
    """Open ``url`` ``loads`` times in fresh profiles, draw, and time it (see the module docstring).

    ``wait`` is a JavaScript condition that holds once the page can answer; ``ready`` then gives
    the milliseconds from navigation to that moment; ``timer(page)`` measures a model call there.
    """
    first, ready_ms, took, weight, per_drawing, wrong, call_ms = [], [], [], None, 0.0, 0, None
    for load in range(loads):
        context = browser.new_context(viewport={"width": 420, "height": 900})
        page = context.new_page()
        responses, posts = [], []
        page.on("response", lambda r: responses.append(r))
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
        page.goto(url, wait_until="load")
        page.wait_for_function(wait, timeout=120_000)
        if page.evaluate("document.body.dataset.ready") not in (None, "yes"):
            raise DigitliteError(f"{url}: the page did not load its model: {page.inner_text('#status')}")
        at = float(page.evaluate(ready))
        shown = draw_digit(page, *DRAWN[load % len(DRAWN)])
        wrong += shown != str(DRAWN[load % len(DRAWN)][0])
        first.append(at + float(page.evaluate("document.body.dataset.tookMs")))
        ready_ms.append(at)
        if load == 0:
            weight = _weight(responses)
            posts.clear()
            for k in range(drawings):
                digit, style = DRAWN[k % len(DRAWN)]
                wrong += draw_digit(page, digit, style) != str(digit)
                took.append(float(page.evaluate("document.body.dataset.tookMs")))
            sent = sum(len(r.post_data_buffer or b"") + len(r.response().body() if r.response() else b"")
                       for r in posts)
            per_drawing = sent / drawings
            if timer is not None:
                call_ms = timer(page)
        context.close()
    return {"weight": weight, "network_per_drawing_bytes": per_drawing, "ready_ms": float(np.median(ready_ms)),
            "first_prediction_ms": float(np.median(first)), "first_prediction_all_ms": first,
            "drawing_ms": {"p50": float(np.percentile(took, 50)), "p90": float(np.percentile(took, 90)), "n": len(took)},
            "call_ms": call_ms, "misread": wrong, "drawn": loads + drawings}


PAGE_CALL = """async () => {
  const c = document.getElementById('pad');
  const input = window.digitlite.toInput(c.getContext('2d').getImageData(0, 0, c.width, c.height));
  const rounds = [];
  for (let i = 0; i < 5; i++) rounds.push(await window.digitlite.timeCalls(input, 400));
  return rounds.sort((a, b) => a - b)[2];
}"""


def page_call_ms(page) -> float:
    """The page's model call in ms: the median of 5 rounds of 400 calls, once its service worker has
    finished keeping the files (which copies ~10 MB and would be timed too)."""
    page.wait_for_function("document.body.dataset.offline", timeout=120_000)
    return float(page.evaluate(PAGE_CALL))


def python_call_ms(model: Path) -> float:
    """p50 of the Python interpreter's call on one test-like input, in ms (what serve's model call costs)."""
    lite = Model(model)
    one = lite.to_input(np.zeros((1, 28, 28), np.uint8))
    return float(np.median(lite.time_calls(one, 2000, 0.5))) * 1e3


def run(loads: int, drawings: int, runtime_dir: str | None) -> dict:
    """Both pages, measured as the module docstring says."""
    # optional: Playwright, the [dev] extra
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise DigitliteError(f"{CHROMIUM}: no Chromium (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        manifest = export_web(site, runtime_dir=runtime_dir)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                with static_server(site) as (url, _):
                    web = measure_page(browser, url, "document.body.dataset.ready", "window.digitlite.readyAt",
                                       loads, drawings, timer=page_call_ms)
                with server_process() as (_, port):
                    served = measure_page(browser, f"http://localhost:{port}/", "document.readyState === 'complete' && "
                                          "performance.getEntriesByType('navigation')[0].loadEventEnd > 0",
                                          "performance.getEntriesByType('navigation')[0].loadEventEnd",
                                          loads, drawings)
            finally:
                browser.close()
        served["call_ms"] = python_call_ms(default_model())
        wasm = next(f for f in manifest["files"] if f.endswith("litert_wasm_internal.wasm"))
        return {"web": web, "serve": served, "model": manifest["model"], "runtime": manifest["runtime"],
                "wasm_bytes": (site / wasm).stat().st_size, "chromium": browser_version(),
                "loads": loads, "drawings": drawings, "machine": machine()}


def browser_version() -> str:
    """Chromium's version line."""
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "chromium"


def markdown(result: dict) -> str:
    """The results table: the static page beside serve."""
    web, srv, m = result["web"], result["serve"], result["machine"]

    def mb(n):
        return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB"

    rows = [
        ("first load, transferred (gzipped)", f"**{mb(web['weight']['gzip_bytes'])}** ({mb(web['weight']['bytes'])} "
         f"as sent, {web['weight']['requests']} files)", f"{mb(srv['weight']['gzip_bytes'])} ({mb(srv['weight']['bytes'])} "
         f"as sent, {srv['weight']['requests']} files)"),
        ("network per drawing", "none", f"{mb(srv['network_per_drawing_bytes'])} (a PNG and a JSON answer per stroke)"),
        ("time to the first prediction (page able to answer)", f"**{web['first_prediction_ms']:.0f} ms** "
         f"({web['ready_ms']:.0f} ms)", f"{srv['first_prediction_ms']:.0f} ms ({srv['ready_ms']:.0f} ms)"),
        ("a drawing to its answer, p50 (p90)", f"**{web['drawing_ms']['p50']:.1f} ms** ({web['drawing_ms']['p90']:.1f} ms)",
         f"{srv['drawing_ms']['p50']:.1f} ms ({srv['drawing_ms']['p90']:.1f} ms)"),
        ("one model call", f"**{web['call_ms'] * 1000:.0f} µs** (LiteRT.js {result['runtime']['@litertjs/core']}, "
         "WebAssembly)", f"{srv['call_ms'] * 1000:.1f} µs (LiteRT, Python)"),
        ("digits drawn, read right", f"{web['drawn'] - web['misread']}/{web['drawn']}",
         f"{srv['drawn'] - srv['misread']}/{srv['drawn']}"),
    ]
    lines = ["| | static page (`export --target web`) | `digitlite serve` |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append(f"{result['chromium']}, headless, on {m['cpu']} ({m['cores']} cores), both servers on loopback; "
                 f"{result['loads']} loads in fresh profiles (medians), {result['drawings']} drawings with real "
                 f"pointer strokes. The static page is `{result['model']}` under LiteRT.js; its weight is mostly the "
                 f"one WebAssembly build the browser picks ({mb(result['wasm_bytes'])} as sent). serve's call is "
                 "the Python interpreter's; the page's includes making the input tensor and reading the output, as "
                 "it does for each drawing. By `python -m digitlite.benchmarks.web`.")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Measure both pages and print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.web", description=__doc__.split("\n\n")[0])
    p.add_argument("--loads", type=int, default=5, help="page loads in fresh profiles, for the load figures")
    p.add_argument("--drawings", type=int, default=24, help="digits drawn for the per-drawing figures")
    p.add_argument("--runtime-dir", default=str(ROOT / ".npm") if (ROOT / ".npm").is_dir() else None,
                   help="folder holding the LiteRT.js tarballs (default: .npm in a checkout, else the cache or npm)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    if args.loads < 1 or args.drawings < 1:
        p.error("--loads and --drawings take whole numbers of at least 1")
    try:
        result = run(args.loads, args.drawings, args.runtime_dir)
    except DigitliteError as e:
        print(f"digitlite.benchmarks.web: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    publish("web", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
