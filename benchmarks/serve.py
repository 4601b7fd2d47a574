"""Web server speed: latency per prediction and requests per second on loopback.

    python -m benchmarks.serve [--requests 2000] [--clients 16] [--update-readme]
    python -m benchmarks.serve --soak 20000 [--update-readme]    # memory and errors over a long run

Starts `digitlite serve`'s server in this process on a free loopback port with the shipped
model, then sends --requests POST /api/predict (280x280 PNG drawings of test digits, as the
page sends them) from --clients concurrent clients.  Reports the server's own per-prediction
latency (decode + preprocess + infer, from the answers) and the client-side round trip.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks.bench import percentiles
from benchmarks.common import machine, publish

MARKERS = ("<!-- serve-results:begin -->", "<!-- serve-results:end -->")
SOAK_MARKERS = ("<!-- serve-soak:begin -->", "<!-- serve-soak:end -->")


def drawing(image: np.ndarray) -> bytes:
    """A digit as the page sends it: dark strokes on a white 280x280 canvas, as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((280, 280), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def measure(address, bodies: list[tuple[bytes, int]], requests: int, clients: int) -> dict:
    """Send ``requests`` predictions from ``clients`` threads; timings and correctness."""
    def one(k):
        body, label = bodies[k % len(bodies)]
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(*address, timeout=30)
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
        res = conn.getresponse()
        answer = json.loads(res.read())
        conn.close()
        return res.status, answer.get("digit") == label, answer.get("latency_ms", 0) / 1000, time.perf_counter() - t0

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {"requests": requests, "clients": clients, "requests_per_second": requests / wall,
            "status_200": sum(r[0] == 200 for r in results), "correct": sum(r[1] for r in results),
            "server_latency": percentiles([r[2] for r in results]),
            "round_trip": percentiles([r[3] for r in results])}


def markdown(result: dict) -> str:
    """The README lines for the server figures, one row per client count."""
    m = result["machine"]
    lines = ["| requests | clients | requests/s | server latency p50 (p99) | round trip p50 (p99) | answers right |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        s, t = r["server_latency"], r["round_trip"]
        lines.append(f"| {r['requests']:,} | {r['clients']} | **{r['requests_per_second']:.0f}** | "
                     f"{s['p50_us'] / 1000:.2f} ms ({s['p99_us'] / 1000:.2f} ms) | {t['p50_us'] / 1000:.2f} ms "
                     f"({t['p99_us'] / 1000:.2f} ms) | {r['correct']}/{r['requests']} |")
    lines.append("")
    lines.append("POST /api/predict with 280×280 PNG drawings of MNIST test digits on loopback, one model shared by "
                 f"all request threads, on {m['cpu']} ({m['cores']} cores, shared with the clients). Server latency "
                 "is decode + preprocess + infer as the server reports it; under 16 clients it includes waiting "
                 "for a core. By `python -m benchmarks.serve`.")
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
    """Resident memory of process ``pid`` in MB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(bodies: list[tuple[bytes, int]], requests: int, clients: int = 8, samples: int = 10) -> dict:
    """Run `digitlite serve` in its own process; send ``requests`` (one in five malformed) from
    ``clients`` threads; sample the server's resident memory ``samples`` times along the way."""
    import re
    import signal
    import subprocess

    bad = malformed_requests()
    proc = subprocess.Popen([sys.executable, "-m", "edge", "serve", "--port", "0", "--threads", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r"localhost:(\d+)/", proc.stderr.readline()).group(1))

        def one(k):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            name = "valid"
            try:
                if k % 5 == 4:
                    name, method, body, headers = bad[(k // 5) % len(bad)]
                    conn.request(method, "/api/predict" if method == "POST" else "/no-such-page", body=body or None,
                                 headers=headers)
                    res = conn.getresponse()
                    res.read()
                    return "malformed", res.status, True
                body, label = bodies[k % len(bodies)]
                conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
                res = conn.getresponse()
                answer = json.loads(res.read())
                return "valid", res.status, answer.get("digit") == label
            except (ConnectionError, OSError):  # the server answered 413 and closed while a 2 MB body was sent
                return "reset", name, False
            finally:
                conn.close()

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
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    valid = [r for r in results if r[0] == "valid"]
    return {"requests": requests, "clients": clients, "seconds": round(wall, 1), "valid": len(valid),
            "valid_right": sum(1 for r in valid if r[1] == 200 and r[2]),
            "malformed": sum(1 for r in results if r[0] == "malformed"),
            "malformed_4xx": sum(1 for r in results if r[0] == "malformed" and 400 <= r[1] < 500),
            "resets": sum(1 for r in results if r[0] == "reset"),
            "reset_kinds": sorted({r[1] for r in results if r[0] == "reset"}),
            "status_5xx": sum(1 for r in results if isinstance(r[1], int) and r[1] >= 500),
            "rss_mb": [round(m, 1) for m in memory], "rss_growth_mb": round(memory[-1] - memory[0], 1),
            "server_alive_at_end": alive}


def soak_markdown(result: dict) -> str:
    """The README lines for the soak."""
    r = result["soak"]
    return "\n".join([
        "| requests | valid, answered right | malformed, answered 4xx | closed while sending over 2 MB | 5xx | server memory after warm-up → end (max) |",
        "|---|---|---|---|---|---|",
        f"| {r['requests']:,} from {r['clients']} clients | {r['valid_right']:,}/{r['valid']:,} | "
        f"{r['malformed_4xx']:,}/{r['malformed']:,} | {r['resets']} | **{r['status_5xx']}** | "
        f"{r['rss_mb'][0]:.1f} → {r['rss_mb'][-1]:.1f} MB ({max(r['rss_mb']):.1f}) |",
        "",
        f"`digitlite serve` in its own process; one request in five malformed (garbage PNG, not an image, wrong "
        f"type, bad JSON, empty canvas, a body over 2 MB, an unknown page); resident memory sampled "
        f"{len(r['rss_mb'])} times. A body over 2 MB is answered 413 before it is read and the connection "
        f"closed, so a client still sending it may see the close instead of the answer. "
        f"By `python -m benchmarks.serve --soak {r['requests']}`.",
    ])


def main(argv=None) -> int:
    """Start the server, load it, print the figures."""
    from edge.classify import default_model
    from edge.mnist import load_mnist
    from edge.runtime import Classifier
    from edge.serve import DigitServer

    p = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 16], help="concurrent clients, one row each")
    p.add_argument("--data-dir", default="")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="instead: N mixed valid/malformed requests to a server process, its memory sampled")
    p.add_argument("--update-readme", action="store_true")
    args = p.parse_args(argv)
    mnist = load_mnist(args.data_dir or None)
    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(50)]
    if args.soak:
        result = {"machine": machine(), "soak": soak(bodies, args.soak)}
        publish("serve_soak", result, soak_markdown(result), SOAK_MARKERS, args.update_readme)
        r = result["soak"]
        return 0 if r["status_5xx"] == 0 and r["valid_right"] == r["valid"] and r["server_alive_at_end"] else 1
    model = default_model()
    server = DigitServer(("127.0.0.1", 0), Classifier(model, threads=1), model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rows = [measure(server.server_address, bodies, args.requests, c) for c in args.clients]
    finally:
        server.shutdown()
        server.server_close()
    result = {"model": model.name, "machine": machine(), "rows": rows}
    publish("serve", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
