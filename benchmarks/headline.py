"""The README's first-screen figures, gathered from what the other benchmark commands wrote.

    python -m digitlite.benchmarks.headline [--update-readme]

Reads ``benchmarks/results/*.json`` (written by quantization, bench, realworld, camera, speed,
mcu, serve and web) and makes one short table; every benchmark that pastes its own table refreshes this
one too, so the headline never lags behind the figures it quotes.  A figure whose benchmark has
not run yet is shown as "not measured", never guessed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digitlite.benchmarks.common import (
    RESULTS,
    UpdateReadme,
    documents,
    paste,
    run_main,
)

MARKERS = ("<!-- headline:begin -->", "<!-- headline:end -->")
MODEL = "digits_int8.tflite"


def _load(results: Path, name: str):
    try:
        return json.loads((results / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def rows(results: Path) -> list[tuple[str, str, str]]:
    """(what, figure, where it comes from) for each headline figure."""
    out = []
    cards = _load(results, "quantization") or []
    card = next((c for c in cards if c.get("file") == MODEL), None)
    out.append(("MNIST test accuracy, int8 model (float model)",
                f"**{card['tflite_accuracy'] * 100:.2f}%** ({card['float_accuracy'] * 100:.2f}%)" if card else None,
                "quantization"))
    out.append(("model size", f"**{card['size_bytes'] / 1024:.1f} KB**" if card else None, "quantization"))
    bench = _load(results, "bench")
    row = next((r for r in (bench or {}).get("rows", []) if r.get("model") == MODEL and r.get("runtime") == "litert"
                and r.get("threads") == 1 and r.get("status") == "passed"), None)
    out.append(("one interpreter call, 1 thread, p50 (LiteRT)", f"**{row['call']['p50_us']:.1f} µs**" if row else None,
                "digitlite bench"))
    world = _load(results, "realworld")
    read = (world or {}).get("mnist_calibration")
    out.append(("MNIST test as `classify` reads it (seven views, pooled), and its calibration",
                f"**{sum(b['right'] for b in read['bins']) / read['samples'] * 100:.2f}%** read right, expected "
                f"calibration error {read['ece'] * 100:.2f}%" if read and read.get("samples") else None, "realworld"))
    real = (world or {}).get("real", {})
    single = real.get("single", {}).get("groups", {}).get("all")
    out.append(("real photos, scans and drawings of one handwritten digit (`../shared/real_photos`, 52 repositories)",
                f"**{single['right'] / single['total'] * 100:.1f}%** of {single['total']:,} read right, "
                f"{single['sure_wrong']} wrong at over 90% confidence" if single else None, "realworld"))
    numbers = real.get("multi", {}).get("groups", {}).get("all")
    out.append(("real handwritten numbers, read whole (`classify --multi`)",
                f"**{numbers['right'] / numbers['total'] * 100:.1f}%** of {numbers['total']:,}" if numbers else None,
                "realworld"))
    nd = next((r for r in (_load(results, "nondigits") or {}).get("rows", [])
               if r.get("model") == MODEL and r.get("floor") == 0), None)
    out.append(("letters, symbols, scribbles, half digits, shadows, sheet edges (rendered; fonts never trained on)",
                f"**{nd['refused']['all non-digits']['rate'] * 100:.1f}%** answered \"not a digit\"" if nd else None,
                "nondigits"))
    papers = [(nd or {}).get("refused", {}).get(k) for k in ("empty paper", "real paper")]
    out.append(("empty paper: rendered (plain, ruled, squared), and real, cut from the real photos beside their digit",
                " and ".join(f"**{p['rate'] * 100:.1f}%** of {p['of']} {what}" for p, what in zip(papers, ("rendered", "real"))
                             if p) + " \"no digit\"" if any(papers) else None, "nondigits"))
    camera = _load(results, "camera")
    groups = (camera or {}).get("desk", {}).get("per_frame", {}).get("groups", {})
    if "digit" in groups and "empty" in groups:
        figure = (f"**{groups['digit']['rate'] * 100:.1f}%** of digit frames read right, "
                  f"**{groups['empty']['rate'] * 100:.1f}%** of empty ones \"no digit\", "
                  f"{camera['desk']['fps']:.0f} frames/s")
    else:
        figure = None
    out.append(("webcam over a desk (ruled and squared paper, shadows, blur), 640×480, 1 thread", figure, "camera"))
    noisy = (camera or {}).get("desk", {}).get("noisy")
    out.append(("`digitlite camera --headless`, 640×480 desk video with sensor noise, 1 thread, JSON lines included",
                f"**{noisy['fps']:.0f} frames/s** end to end (sensor noise σ {noisy['noise']:g})" if noisy else None,
                "camera"))
    speed = _load(results, "speed")
    photo = (speed or {}).get("paths", {}).get("photo")
    out.append(("a 640×480 JPEG file to its digit, decode included, p50",
                f"**{photo['p50_ms']:.2f} ms**" if photo else None, "speed"))
    folder = (speed or {}).get("folder")
    out.append(("`digitlite classify` of a folder of 640×480 JPEGs (sensor noise), 1 thread, against Pillow's own grey "
                "decode of the same files", f"**{folder['classify_ms']:.2f} ms** a file, **{folder['ratio']:.2f}×** "
                f"Pillow's {folder['pillow_gray_ms']:.2f} ms" if folder else None, "speed"))
    for r in (_load(results, "mcu") or {}).get("models", []):
        out.append((f"on a microcontroller (TFLite Micro), `{r['model']}`",
                    f"**{r['model_bytes'] / 1024:.1f} KB** flash, **{r['ram_bytes'] / 1024:.1f} KB** RAM, "
                    f"{r['accuracy'] * 100:.2f}%, {r['same_as_litert']:,}/{r['images']:,} as LiteRT", "mcu"))
    serve = _load(results, "serve")
    busy = next((r for r in (serve or {}).get("rows", []) if r.get("clients") == 64 and r.get("busy_cores")), None)
    out.append(("draw-a-digit server, 64 clients, both cores also busy",
                f"**{busy['requests_per_second']:.0f} requests/s**, {busy['resets']} resets, {busy['status_5xx']} errors"
                if busy else None, "serve"))
    web = _load(results, "web")
    out.append(("draw-a-digit page in the browser, no server (LiteRT.js, Chromium)",
                f"**{web['web']['weight']['gzip_bytes'] / 1e6:.1f} MB** gzipped once, first digit read "
                f"**{web['web']['first_prediction_ms'] / 1000:.2f} s** after opening, **{web['web']['drawing_ms']['p50']:.0f} ms**"
                " a drawing" if web else None, "web"))
    tune = _load(results, "tune")
    out.append(("tuned on your own digits: one writer's style the shipped model misreads, 10 samples a digit",
                f"**{tune['style']['before']['accuracy'] * 100:.1f}% → {tune['style']['after']['accuracy'] * 100:.1f}%** "
                f"of {tune['style']['test_pictures']} held-out pictures, MNIST int8 {tune['mnist_int8']['shipped'] * 100:.2f}% → "
                f"{tune['mnist_int8']['tuned'] * 100:.2f}%, non-digits refused {_refused(tune, 'shipped')} → "
                f"{_refused(tune, 'tuned')}, **{tune['tune_seconds']:.0f} s** to tune" if tune else None, "tune"))
    return out


def _refused(tune: dict, model: str) -> str:
    """The share of the non-digit set a model of the tune benchmark answered "not a digit"."""
    kept = tune.get("kept", {}).get(model)
    return f"{kept['non_digits_refused']['rate'] * 100:.1f}%" if kept else "?"


def markdown(results: Path) -> str:
    """The headline table."""
    lines = ["| | measured | by |", "|---|---|---|"]
    for what, figure, name in rows(results):
        command = name if " " in name else f"python -m digitlite.benchmarks.{name}"
        lines.append(f"| {what} | {figure or 'not measured'} | `{command}` |")
    machines = {f"{m['cpu']} ({m['cores']} cores)" for name in ("camera", "speed", "serve", "tune")
                if (m := (_load(results, name) or {}).get("machine"))}
    lines += ["", f"On {', '.join(sorted(machines)) or 'this machine'}; each figure is taken from `benchmarks/results/`, "
              "written by the command beside it. Every table: [docs/results.md](docs/results.md)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Print the headline table; with --update-readme, paste it into the README."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.headline", description=__doc__.split("\n\n")[0])
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    table = markdown(RESULTS)
    print(table)
    if args.update_readme:
        paste(documents()[0], table, MARKERS)  # the README: the headline is its first screen
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
