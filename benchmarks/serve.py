"""Web server speed: latency per prediction and requests per second on loopback.

    python -m benchmarks.serve [--requests 2000] [--clients 16] [--update-readme]

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
    p.add_argument("--update-readme", action="store_true")
    args = p.parse_args(argv)
    mnist = load_mnist(args.data_dir or None)
    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(50)]
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
