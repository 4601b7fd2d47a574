"""The draw-a-digit web page and its JSON API, on the standard library's threading HTTP server.

    GET  /              the page (static files from the package: no CDN, no network)
    GET  /api/health    {"status": "ok", "model": <the model card's essentials>, ...}
    POST /api/predict   body: the drawing as a PNG (Content-Type: image/png), or JSON
                        {"pixels": [[0-255, ...], ...]} (any size, any polarity)
                        -> {"digit", "confidence", "probabilities", "latency_ms"}
                        (digit null when the confidence is under --min-confidence); with
                        ?input=1 also "input", the 28x28 the model saw (the page asks for it)
    POST /api/collect?label=D   with --collect DIR: the drawing (as for /api/predict) saved as a
                        sample of D (0-9 or not_a_digit) -> {"saved": "D/<id>.png", ...}: the
                        page's "wrong? it was ..."; /api/predict then also saves what it reads,
                        except for ?collect=0 (the page's answers while a digit is being drawn)

Inference goes through the same runtime and preprocessing as `digitlite classify`.  Bad
requests get a 4xx with {"error": ...} and the server keeps serving.

With several workers (one per core by default) the listening socket is shared by as many
processes, each with its own interpreter, so that requests are answered on every core.  Each
worker takes at most MAX_IN_FLIGHT requests at a time; the others wait in the listen queue
(QUEUE connections deep), so that a burst is queued, never reset.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from digitlite.edge.apps.collect import LABEL_FOLDERS, NOT_A_DIGIT, Collector
from digitlite.edge.apps.page import TEMPLATE, served_page
from digitlite.edge.runtime.card import ModelCard
from digitlite.edge.runtime.predictor import Predictor
from digitlite.edge.runtime.reading import Reading
from digitlite.edge.runtime.shipped import web_root
from digitlite.edge.settings import ServeSettings
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.errors import ImageError, SeveralDigits
from digitlite.edge.vision.inputs import as_gray, gray_input

MAX_BODY = 2 * 1024 * 1024  # a 280x280 drawing is a few kilobytes
QUEUE = 128  # connections waiting to be accepted (the listen backlog); the old 5 overflowed under load
MAX_IN_FLIGHT = 16  # requests a worker takes at once: bounded threads and memory, the rest wait queued
MAX_SIDE = 2048  # pixels per side for JSON drawings
SOCKET_TIMEOUT = 10  # seconds a client may take to send its request
# What of a refused (413) body is read and dropped before closing, so that the client, still
# sending, reads the 413 instead of a reset (closing on unread data resets the connection).
LINGER_BYTES, LINGER_SECONDS = 8 * MAX_BODY, 5
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


class RequestError(Exception):
    """A client error: HTTP status and a message for the JSON body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _card(model_path: Path) -> dict:
    """The card's essentials for /api/health; just the file's name for a model without a card."""
    card = ModelCard.of(model_path, required=False)  # a broken or foreign card stops the server, in one line
    return card.essentials() if card else {"file": model_path.name}


class DigitServer(ThreadingHTTPServer):
    """One model, shared by the request threads (one interpreter call at a time)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = QUEUE

    def __init__(self, address, classifier: Predictor, model_path: Path, min_confidence: float = 0.0,
                 max_body: int = MAX_BODY):
        super().__init__(address, Handler)
        self.classifier, self.card, self.min_confidence = classifier, _card(model_path), min_confidence
        self.lock = threading.Lock()
        self.max_body = max_body
        self.page = served_page().encode()
        self.slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.collector: Collector | None = None  # with --collect: where the samples go
        self._served = multiprocessing.Value("q", 0)  # in shared memory: forked workers count together

    @property
    def served(self) -> int:
        """Predictions answered, by every worker."""
        return int(self._served.value)

    def process_request(self, request, client_address):
        """Start a thread for the request once a slot is free (until then it waits, accepted)."""
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def read(self, drawing: Drawing) -> tuple[Reading, np.ndarray]:
        """Read a decoded drawing as ``Classifier.classify`` reads the same image: (its reading, its input)."""
        pixels = gray_input(drawing.gray, drawing.reduction, "drawing", drawing.source)
        with self.lock:  # a TFLite interpreter is not safe to call from two threads at once
            probs = self.classifier.predict_proba(pixels[None])[0]
        with self._served.get_lock():
            self._served.value += 1
        return Reading.from_probabilities(probs, self.min_confidence), pixels

    def predict(self, drawing: Drawing, with_input: bool = True, collect: bool = True) -> dict:
        """The JSON answer for a drawing (see ``read``); with a collector (and ``collect``), it is saved too."""
        started = time.perf_counter()
        reading, pixels = self.read(drawing)
        answer = {**reading.as_dict(), "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                  **({"input": pixels.tolist()} if with_input else {})}
        if self.collector is not None and collect:
            answer["collected"] = self._save(reading, pixels, drawing).folder
        return answer

    def collect(self, drawing: Drawing, label: str) -> dict:
        """Save a drawing as a sample of ``label`` (the person's word for it); the answer names where."""
        if self.collector is None:
            raise RequestError(404, "this server does not collect samples: start it with digitlite serve --collect DIR")
        if label not in LABEL_FOLDERS:
            raise RequestError(400, f"label {label!r} is not a label: use 0-9 or {NOT_A_DIGIT}")
        reading, pixels = self.read(drawing)
        sample = self._save(reading, pixels, drawing, label)
        return {"saved": f"{label}/{sample.crop.name}", "label": label, "read_as": reading.as_dict(probabilities=False)}

    def _save(self, reading: Reading, pixels: np.ndarray, drawing: Drawing, folder: str | None = None):
        try:
            return self.collector.save(reading, pixels, drawing.gray, "serve", folder)
        except DigitliteError as e:
            raise RequestError(507, f"could not save the sample ({e})") from None


IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "application/octet-stream")


@dataclass
class Drawing:
    """A request's image, decoded: grayscale, the reduction it was decoded at, and the bytes of an image file."""

    gray: np.ndarray
    reduction: float = 1.0
    source: bytes | None = None


def decode_drawing(content_type: str, body: bytes) -> Drawing:
    """The request body decoded (as ``vision.inputs.as_gray`` decodes an image), or RequestError."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in IMAGE_TYPES:
        try:
            gray, reduction, _ = as_gray(body, "drawing")
        except ImageError as e:
            raise RequestError(400, str(e)) from None
        return Drawing(gray, reduction, body)
    if kind == "application/json":
        try:
            pixels = np.asarray(json.loads(body)["pixels"], dtype=np.float32)
        except (ValueError, KeyError, TypeError):
            raise RequestError(400, 'expected JSON {"pixels": [[0-255, ...], ...]}') from None
        if pixels.ndim != 2 or not (1 <= pixels.shape[0] <= MAX_SIDE and 1 <= pixels.shape[1] <= MAX_SIDE):
            raise RequestError(400, f"pixels must be a 2-D array of at most {MAX_SIDE}x{MAX_SIDE}")
        if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
            raise RequestError(400, "pixels must be numbers from 0 to 255")
        return Drawing(pixels)
    raise RequestError(415, f"unsupported Content-Type {kind or '(none)'}: send an image "
                            f"({', '.join(IMAGE_TYPES[:3])}) or application/json")


def _asks_for_input(path: str) -> bool:
    """Whether the request's query asks for the 28x28 input in the answer (``?input=1``)."""
    return _query(path, "input", "0") in ("1", "true", "yes")


def _query(path: str, name: str, default: str) -> str:
    """The last value of ``name`` in the request's query, else ``default``."""
    return parse_qs(urlsplit(path).query).get(name, [default])[-1]


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: where a phone on the same network finds it."""
    found = set()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 1))  # UDP: nothing is sent; it picks the interface a route would use
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    try:
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith(("127.", "0.")))


class Handler(BaseHTTPRequestHandler):
    """Routes: the page, its static files, /api/health and /api/predict."""

    server: DigitServer
    timeout = SOCKET_TIMEOUT
    server_version = "digitlite"

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's name)
        pass  # one line per request would drown the console on a Pi; errors are in the responses

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: dict, extra: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", extra)

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        path = self.path.split("?", 1)[0]
        if path == "/api/health":
            self._json(200, {"status": "ok", "model": self.server.card, "runtime": self.server.classifier.runtime,
                             "served": self.server.served, "collect": self.server.collector is not None})
        elif path in ("/api/predict", "/api/collect"):
            self._json(405, {"error": f"use POST for {path}"}, {"Allow": "POST"})
        elif path in ("/", "/index.html"):
            self._send(200, self.server.page, STATIC_TYPES[".html"])
        elif path.startswith("/static/"):
            name = path[len("/static/"):]
            file = web_root() / name
            if "/" in name or name.startswith(".") or name == TEMPLATE or not file.is_file() \
                    or file.suffix not in STATIC_TYPES:
                self._json(404, {"error": f"no such file: {path}"})
            else:
                self._send(200, file.read_bytes(), STATIC_TYPES[file.suffix])
        else:
            self._json(404, {"error": f"no such path: {path}"})

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        route = self.path.split("?", 1)[0]
        if route not in ("/api/predict", "/api/collect"):
            self._json(404 if not self.path.startswith("/api/") else 405,
                       {"error": f"cannot POST to {self.path}"}, {"Allow": "GET"})
            return
        try:
            length = self.headers.get("Content-Length")
            if length is None:
                raise RequestError(411, "Content-Length is required")
            try:
                length = int(length)
            except ValueError:
                raise RequestError(400, "Content-Length is not a number") from None
            if length > self.server.max_body:
                raise RequestError(413, f"body of {length:,} bytes is over the {self.server.max_body:,}-byte limit "
                                        "(digitlite serve --max-body-mb raises it)")
            if length <= 0:
                raise RequestError(400, "empty body")
            body = self.rfile.read(length)
            if len(body) < length:
                raise RequestError(400, "body shorter than its Content-Length")
            gray = decode_drawing(self.headers.get("Content-Type", ""), body)
            try:
                if route == "/api/collect":
                    answer = self.server.collect(gray, _query(self.path, "label", ""))
                else:
                    answer = self.server.predict(gray, with_input=_asks_for_input(self.path),
                                                 collect=_query(self.path, "collect", "1") not in ("0", "false", "no"))
            except SeveralDigits as e:  # never a confident answer for one digit of a number
                raise RequestError(422, f"{e.count} digits side by side: draw one digit at a time") from None
            except ImageError:
                raise RequestError(422, "no digit found: draw one") from None
            self._json(200, answer)
        except RequestError as e:
            self.close_connection = True  # the rest of an oversized body is not read
            self._json(e.status, {"error": str(e)})
            if e.status == 413:
                self._linger(length)

    def _linger(self, length: int) -> None:
        """After the answer, drop what the client still sends (bounded in bytes and time)."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            left, deadline = min(length, LINGER_BYTES), time.monotonic() + LINGER_SECONDS
            while left > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass  # the client went away: nothing more to do

    def _not_allowed(self):
        self._json(405, {"error": f"{self.command} is not allowed"}, {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def serve(classifier, settings: ServeSettings | None = None, out=None) -> None:
    """Serve ``classifier`` (an ``api.Classifier``: its model, interpreter and floor) until Ctrl-C (or
    SIGTERM), as ``settings`` say; each of several workers reads with its own copy of it.
    DigitliteError if the address cannot be bound.  Under the floor the answer's digit is null."""
    settings, out = settings or ServeSettings(), out or sys.stderr
    host, port, workers = settings.host, settings.port, settings.processes()
    if workers > 1 and not hasattr(os, "fork"):
        raise DigitliteError("--workers above 1 needs fork (Linux, macOS); use --workers 1 here")
    make_classifier = classifier.copy
    try:
        server = DigitServer((host, port), classifier, classifier.path, classifier.min_confidence,
                             max_body=int(settings.max_body_mb * 1024 * 1024))
    except OSError as e:
        raise DigitliteError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    if settings.collect:
        try:
            server.collector = Collector(settings.collect)
        except DigitliteError:
            server.server_close()
            raise
    bound_port = server.server_address[1]
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    print(f"draw a digit at http://{shown}:{bound_port}/  ({workers} worker{'s' * (workers > 1)}; Ctrl-C to stop)",
          file=out, flush=True)
    if host in ("0.0.0.0", "", "::"):  # every interface: say where a phone on the same network opens it
        where = lan_addresses()
        print("on this network: " + ("  ".join(f"http://{a}:{bound_port}/" for a in where) if where else
                                     "no network address found (is this machine on a network?)"), file=out, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: listening on {host}: anyone who can reach this machine on port {bound_port} can use it",
              file=out, flush=True)
    try:
        if workers == 1:
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
        else:
            _supervise(server, make_classifier, workers, out)
    finally:
        server.server_close()


_STOPS = {signal.SIGINT, signal.SIGTERM}


def _start_worker(server: DigitServer, make_classifier) -> int:
    """Fork a worker that serves on the shared socket with its own interpreter; its pid.

    Called with SIGINT and SIGTERM held (see _supervise).  A worker ignores Ctrl-C (it reaches
    the whole process group; the supervisor stops the workers) and dies on SIGTERM at once,
    and when the supervisor dies: no Python handler that a library call could swallow, no
    orphan left holding the port.
    """
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        server.classifier = make_classifier()  # its own interpreter, made after the fork
        server.serve_forever()
    except BaseException:  # noqa: BLE001 - a worker reports through its exit code, never a traceback
        code = 1
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (Linux only)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor's stop still ends every worker
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(0)


def _supervise(server: DigitServer, make_classifier, workers: int, out) -> None:
    """Keep ``workers`` processes serving; replace one that dies; stop them all on Ctrl-C/SIGTERM."""
    pids: set[int] = set()
    restarts = 0

    def start() -> None:
        # Held while forking: a Ctrl-C between the fork and the note of its pid would leave a
        # worker running, unknown, after the server stops.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        try:
            pids.add(_start_worker(server, make_classifier))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)

    try:
        for _ in range(workers):
            start()
        while pids:
            pid, status = os.wait()
            if pid not in pids:
                continue
            pids.discard(pid)
            restarts += 1  # a worker only ever stops when it fails or is killed
            if restarts > 10 * workers:
                raise DigitliteError("the server's workers keep dying; run with --workers 1 to see why")
            print(f"note: worker {pid} stopped ({_how(status)}); starting another", file=out, flush=True)
            start()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_workers(pids)


def _stop_workers(pids: set[int], grace: float = 10.0) -> None:
    """SIGTERM every worker and reap it; one still there after ``grace`` seconds is killed."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while pids:
        for pid in list(pids):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pids.discard(pid)
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
        if pids:
            time.sleep(0.02)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"
