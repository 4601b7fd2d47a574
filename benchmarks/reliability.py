"""Reliability of the image path: malformed files through decode -> preprocess -> infer.

    python -m digitlite.benchmarks.reliability [--random 2000] [--update-readme]

A corpus is generated (no files needed): a drawn digit in every format and mode Pillow
writes here (PNG, JPEG, GIF, BMP, TIFF, WebP; gray, RGB, RGBA, palette, 16-bit, CMYK,
1-bit, animated), then each file truncated at several points, with bytes of its header
flipped, emptied, and a PNG whose header claims 100,000 x 100,000 pixels.  --random adds
that many files of random bytes behind real format signatures.  Every input must end in
a digit or a clear error; anything else (an exception, a crash, a hang) is counted.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import time
import zlib

import numpy as np
from PIL import Image, features

from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import stroke_digit
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.inputs import preprocess_file

MARKERS = ("<!-- reliability-results:begin -->", "<!-- reliability-results:end -->")
SIGNATURES = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF"]


def _digit(size=120) -> np.ndarray:
    ink = stroke_digit(3, np.random.default_rng(0))
    return 255 - np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize((size, size)), np.uint8)


def valid_files() -> list[tuple[str, bytes]]:
    """One drawn digit in every format and mode this Pillow can write."""
    gray = _digit()
    images = {
        "L": Image.fromarray(gray), "RGB": Image.fromarray(np.stack([gray] * 3, -1)),
        "RGBA": Image.fromarray(np.stack([gray] * 3 + [np.full_like(gray, 255)], -1)),
        "P": Image.fromarray(gray).convert("P"), "1": Image.fromarray(gray > 127),
        "I;16": Image.fromarray(gray.astype(np.uint16) * 257),
    }
    formats = {"PNG": ["L", "RGB", "RGBA", "P", "1", "I;16"], "JPEG": ["L", "RGB"], "GIF": ["L", "P"],
               "BMP": ["L", "RGB", "1"], "TIFF": ["L", "RGB", "RGBA", "1", "I;16"]}
    if features.check("webp"):
        formats["WEBP"] = ["RGB", "RGBA"]
    out = []
    for fmt, modes in formats.items():
        for mode in modes:
            buf = io.BytesIO()
            images[mode].save(buf, format=fmt)
            out.append((f"{mode}.{fmt.lower()}", buf.getvalue()))
    for fmt in ("JPEG", "TIFF"):
        buf = io.BytesIO()
        images["RGB"].convert("CMYK").save(buf, format=fmt)
        out.append((f"CMYK.{fmt.lower()}", buf.getvalue()))
    buf = io.BytesIO()
    images["L"].save(buf, format="GIF", save_all=True, append_images=[images["P"]], duration=50)
    out.append(("animated.gif", buf.getvalue()))
    return out


def huge_png(width=100_000, height=100_000) -> bytes:
    """A few hundred bytes whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def malformed_corpus(seed: int = 0) -> list[tuple[str, bytes]]:
    """Valid files, their truncations and header flips, empty and huge-header files."""
    rng = np.random.default_rng(seed)
    corpus = [("empty", b""), ("huge.png", huge_png()), ("text.png", b"not an image at all\n" * 10)]
    for name, data in valid_files():
        corpus.append((name, data))
        for keep in (0.01, 0.1, 0.5, 0.9, 0.99):
            corpus.append((f"{name}:cut{keep}", data[: max(1, int(len(data) * keep))]))
        for k in range(3):
            flipped = bytearray(data)
            for pos in rng.integers(0, min(64, len(data)), size=4):
                flipped[pos] ^= int(rng.integers(1, 256))
            corpus.append((f"{name}:flip{k}", bytes(flipped)))
    return corpus


def random_files(count: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """Random bytes behind a real format signature, to reach the decoders' insides."""
    rng = np.random.default_rng(seed)
    return [(f"random{k}", SIGNATURES[k % len(SIGNATURES)] + rng.bytes(int(rng.integers(0, 2048))))
            for k in range(count)]


def run(corpus, classifier=None) -> dict:
    """Push each input through decode -> preprocess (-> infer); count the outcomes."""
    counts = {"tried": 0, "digit": 0, "clear_error": 0, "other_exception": 0}
    failures, slowest = [], 0.0
    for name, data in corpus:
        counts["tried"] += 1
        started = time.perf_counter()
        try:
            pixels = preprocess_file(data, name)
            if pixels.shape != (28, 28) or pixels.dtype != np.uint8:
                raise AssertionError(f"bad output {pixels.shape} {pixels.dtype}")
            if classifier is not None:
                classifier.predict_proba(pixels[None])
            counts["digit"] += 1
        except ImageError:
            counts["clear_error"] += 1
        except Exception as e:  # noqa: BLE001 -- this is what the benchmark counts
            counts["other_exception"] += 1
            failures.append(f"{name}: {type(e).__name__}: {e}")
        slowest = max(slowest, time.perf_counter() - started)
    return {**counts, "slowest_seconds": round(slowest, 3), "failures": failures[:50]}


def markdown(result: dict) -> str:
    """The README lines for the reliability figures."""
    return (f"| inputs tried | answered with a digit | clear one-line error | anything else | slowest input |\n"
            f"|---|---|---|---|---|\n"
            f"| {result['tried']:,} | {result['digit']:,} | {result['clear_error']:,} | "
            f"**{result['other_exception']}** | {result['slowest_seconds']:.2f} s |\n\n"
            f"{result['corpus_files']} generated files (every format and mode Pillow writes here, truncated, "
            f"header-flipped, empty, a 100,000×100,000 header) and {result['random_files']:,} random files behind real "
            "format signatures, through decode, preprocessing and the shipped model. "
            "By `python -m digitlite.benchmarks.reliability`; the test suite runs the same corpus and a Hypothesis fuzzer.")


def main(argv=None) -> int:
    """Generate the corpus, run it, print the figures."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.reliability", description=__doc__.split("\n\n")[0])
    p.add_argument("--random", type=int, default=2000, help="random files behind format signatures")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    corpus = malformed_corpus()
    result = run(corpus + random_files(args.random), Model(default_model()))
    result.update({"corpus_files": len(corpus), "random_files": args.random, "machine": machine()})
    publish("reliability", result, markdown(result), MARKERS, args.update_readme)
    return 1 if result["other_exception"] else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
