"""Web server under load: requests per second, latency, resets and errors, with and without a busy CPU.

    python -m digitlite.benchmarks.serve [--requests 3000] [--update-readme]
    python -m digitlite.benchmarks.serve --soak 20000 [--update-readme]    # memory and errors over a long run

Starts `digitlite serve` as its own process (one worker per core, as by default) on a free
loopback port with the shipped model, then sends POST /api/predict (280x280 PNG drawings of
test digits, as the page sends them; one request in five malformed) from 1, 16 and 64
concurrent clients, and from 64 while two other processes keep both cores busy.  Reports
requests per second, the server's own latency (decode + preprocess + infer, from the answers),
the round trip, connections reset or timed out, 5xx answers, and the server's memory (all its
processes).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
from PIL import Image

from digitlite.benchmarks.bench import percentiles
from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.errors import DigitliteError

MARKERS = ("<!-- serve-results:begin -->", "<!-- serve-results:end -->")
SOAK_MARKERS = ("<!-- serve-soak:begin -->", "<!-- serve-soak:end -->")


def drawing(image: np.ndarray) -> bytes:
    """A digit as the page sends it: dark strokes on a white 280x280 canvas, as PNG."""
    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((280, 280), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def send(address, k: int, bodies: list[tuple[bytes, int]], bad: list) -> tuple:
    """Request number ``k``: every fifth one a bad request of the ``bad`` kinds (if any), the others
    a drawing.  (kind, name, status, right, server seconds, round-trip seconds), where kind is
    valid, malformed, reset or timeout; a malformed request is right when answered 4xx."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(*address, timeout=30)
    name = "valid"
    try:
        if bad and k % 5 == 4:
            name, method, body, headers = bad[(k // 5) % len(bad)]
            conn.request(method, "/api/predict" if method == "POST" else "/no-such-page", body=body or None,
                         headers=headers)
            res = conn.getresponse()
            res.read()
            return "malformed", name, res.status, 400 <= res.status < 500, 0.0, time.perf_counter() - t0
        body, label = bodies[k % len(bodies)]
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
        res = conn.getresponse()
        answer = json.loads(res.read())
        return ("valid", name, res.status, res.status == 200 and answer.get("digit") == label,
                answer.get("latency_ms", 0) / 1000, time.perf_counter() - t0)
    except TimeoutError:
        return "timeout", name, 0, False, 0.0, time.perf_counter() - t0
    except OSError:  # reset, aborted, refused: the connection broke
        return "reset", name, 0, False, 0.0, time.perf_counter() - t0
    finally:
        conn.close()


def tally(results: list[tuple]) -> dict:
    """Counts of what ``send`` met: answers right, 4xx for the bad ones, resets, timeouts, 5xx."""
    valid = [r for r in results if r[0] == "valid"]
    return {"valid": len(valid), "valid_right": sum(1 for r in valid if r[3]),
            "malformed": sum(1 for r in results if r[0] == "malformed"),
            "malformed_4xx": sum(1 for r in results if r[0] == "malformed" and r[3]),
            "resets": sum(1 for r in results if r[0] == "reset"),
            "reset_kinds": sorted({r[1] for r in results if r[0] == "reset"}),
            "timeouts": sum(1 for r in results if r[0] == "timeout"),
            "status_5xx": sum(1 for r in results if r[2] >= 500)}


def measure(address, bodies: list[tuple[bytes, int]], requests: int, clients: int, malformed: bool = False) -> dict:
    """Send ``requests`` predictions from ``clients`` threads (one in five malformed if asked);
    timings, answers, and what went wrong on the way."""
    bad = malformed_requests()[:5] if malformed else []  # the kinds a page could send (no 2 MB body, no GET)
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda k: send(address, k, bodies, bad), range(requests)))
    wall = time.perf_counter() - started
    counts = tally(results)
    valid = [r for r in results if r[0] == "valid"]
    answered = [r for r in valid if r[2] == 200]
    return {"requests": requests, "clients": clients, "requests_per_second": requests / wall, **counts,
            "correct": counts["valid_right"], "status_200": len(answered),
            "server_latency": percentiles([r[4] for r in answered] or [0.0]),
            "round_trip": percentiles([r[5] for r in valid] or [0.0])}


def _burn(stop) -> None:
    while not stop.is_set():
        pass


@contextmanager
def busy_cores(count: int):
    """``count`` processes that keep a core each busy while the block runs."""
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(count)]
    for b in burners:
        b.start()
    try:
        yield
    finally:
        stop.set()
        for b in burners:
            b.join(timeout=10)


@contextmanager
def server_process(*extra: str):
    """`digitlite serve` in its own process on a free loopback port: yields (process, port)."""
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--port", "0", *extra], stderr=subprocess.PIPE,
                            text=True)
    try:
        port = int(re.search(r"localhost:(\d+)/", proc.stderr.readline()).group(1))
        yield proc, port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def markdown(result: dict) -> str:
    """The README lines for the server figures, one row per load."""
    m = result["machine"]
    lines = ["| clients | other load | requests/s | server latency p50 (p99) | round trip p50 (p99) | valid, answered "
             "right | malformed, answered 4xx | resets | timeouts | 5xx | server memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        s, t = r["server_latency"], r["round_trip"]
        load = "both cores busy" if r["busy_cores"] else "none"
        lines.append(f"| {r['clients']} | {load} | **{r['requests_per_second']:.0f}** | "
                     f"{s['p50_us'] / 1000:.2f} ms ({s['p99_us'] / 1000:.2f} ms) | {t['p50_us'] / 1000:.2f} ms "
                     f"({t['p99_us'] / 1000:.2f} ms) | {r['correct']:,}/{r['valid']:,} | "
                     f"{r['malformed_4xx']:,}/{r['malformed']:,} | **{r['resets']}** | {r['timeouts']} | "
                     f"**{r['status_5xx']}** | {r['server_mb']:.0f} MB |")
    lines.append("")
    lines.append(f"{result['requests']:,} requests a row to `digitlite serve` in its own process ({result['workers']} "
                 f"workers, one per core), one in five malformed (garbage PNG, not an image, wrong type, bad JSON, "
                 f"empty canvas), from a client process on the same {m['cpu']} ({m['cores']} cores); 'both cores "
                 "busy': two more processes spinning. Server latency is decode + preprocess + infer as the server "
                 "reports it; the round trip includes waiting in the listen queue. Memory: all the server's processes "
                 "after the row. By `python -m digitlite.benchmarks.serve`.")
    return "\n".join(lines)


def malformed_requests() -> list[tuple[str, str, bytes, dict]]:
    """(name, method, body, headers) for each kind of bad request the soak mixes in."""
    return [
        ("garbage PNG", "POST", b"\x89PNG\r\n\x1a\n" + b"junk" * 300, {"Content-Type": "image/png"}),
        ("not an image", "POST", b"hello" * 100, {"Content-Type": "image/png"}),
        ("wrong type", "POST", b"<xml/>", {"Content-Type": "application/xml"}),
        ("bad JSON", "POST", b'{"pixels": [[1, 2], [3', {"Content-Type": "application/json"}),
        ("empty canvas", "POST", json.dumps({"pixels": [[0] * 28] * 28}).encode(), {"Content-Type": "application/json"}),
        ("too big", "POST", b"\0" * (2 * 1024 * 1024 + 1), {"Content-Type": "image/png"}),
        ("no such page", "GET", b"", {}),
    ]


def rss_mb(pid: int) -> float:
    """Memory of process ``pid`` and its children (the server's workers) in MB: the sum of their
    proportional set sizes (pages the forked workers share with their parent counted once)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
        except (OSError, StopIteration):
            if p == pid:
                raise RuntimeError(f"no memory figures for process {pid}") from None
    return total


def soak(bodies: list[tuple[bytes, int]], requests: int, clients: int = 8, samples: int = 10) -> dict:
    """Run `digitlite serve` in its own process; send ``requests`` (one in five malformed) from
    ``clients`` threads; sample the server's resident memory ``samples`` times along the way."""
    bad = malformed_requests()
    with server_process() as (proc, port):
        def one(k):
            return send(("127.0.0.1", port), k, bodies, bad)

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(min(200, requests))))  # warm-up: allocator and caches settle
            memory = [rss_mb(proc.pid)]
            results = []
            step = max(1, requests // samples)
            started = time.perf_counter()
            for start in range(0, requests, step):
                results += list(pool.map(one, range(start, min(requests, start + step))))
                memory.append(rss_mb(proc.pid))
            wall = time.perf_counter() - started
        alive = proc.poll() is None
    return {"requests": requests, "clients": clients, "seconds": round(wall, 1), **tally(results),
            "rss_mb": [round(m, 1) for m in memory], "rss_growth_mb": round(memory[-1] - memory[0], 1),
            "server_alive_at_end": alive}


def soak_markdown(result: dict) -> str:
    """The README lines for the soak."""
    r = result["soak"]
    return "\n".join([
        "| requests | valid, answered right | malformed, answered 4xx | resets | 5xx | server memory after warm-up → end (max) |",
        "|---|---|---|---|---|---|",
        f"| {r['requests']:,} from {r['clients']} clients | {r['valid_right']:,}/{r['valid']:,} | "
        f"{r['malformed_4xx']:,}/{r['malformed']:,} | {r['resets']} | **{r['status_5xx']}** | "
        f"{r['rss_mb'][0]:.1f} → {r['rss_mb'][-1]:.1f} MB ({max(r['rss_mb']):.1f}) |",
        "",
        f"`digitlite serve` in its own process ({result.get('workers', 1)} workers); one request in five malformed "
        f"(garbage PNG, not an image, wrong type, bad JSON, empty canvas, a body over 2 MB, an unknown page); "
        f"memory of all the server's processes sampled {len(r['rss_mb'])} times. A body over 2 MB is answered "
        f"413 without being decoded; what the client still sends is read and dropped so that it gets the "
        f"answer, not a reset. "
        f"By `python -m digitlite.benchmarks.serve --soak {r['requests']}`.",
    ])


def main(argv=None) -> int:
    """Start the server, load it, print the figures."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="requests a row")
    p.add_argument("--data-dir", default="")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="instead: N mixed valid/malformed requests to a server process, its memory sampled")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    try:
        mnist = load_mnist(args.data_dir or None, test_only=True)
    except DigitliteError as e:  # no data and no network: one line saying what to do
        print(f"serve: error: {e}", file=sys.stderr)
        return 1
    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(50)]
    if args.soak:
        result = {"machine": machine(), "soak": soak(bodies, args.soak), "workers": os.cpu_count() or 1}
        publish("serve_soak", result, soak_markdown(result), SOAK_MARKERS, args.update_readme)
        r = result["soak"]
        return 0 if r["status_5xx"] == r["resets"] == 0 and r["valid_right"] == r["valid"] and r["server_alive_at_end"] else 1
    model = default_model()
    rows = []
    for clients, busy in ((1, 0), (16, 0), (64, 0), (64, 2)):
        with server_process() as (proc, port), busy_cores(busy):
            row = measure(("127.0.0.1", port), bodies, args.requests, clients, malformed=True)
            row.update(busy_cores=busy, server_mb=rss_mb(proc.pid))
        rows.append(row)
        print(f"{clients} clients, {busy} busy cores: {row['requests_per_second']:.0f} requests/s", file=sys.stderr)
    result = {"model": model.name, "machine": machine(), "rows": rows, "requests": args.requests,
              "workers": os.cpu_count() or 1}
    publish("serve", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
