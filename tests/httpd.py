"""A local HTTP server whose answers each test registers, on 127.0.0.1, for tests.

``server.route(path)(func)`` answers *path* with ``func(handler, request)``; the helpers
``send``, ``send_json`` and ``send_ranged`` write the answer.  :class:`QuietHandler` (request
parsing, no logging) is also the base of the publishers' replica (``tests/replica.py``).
Nothing here touches the internet.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class QuietHandler(BaseHTTPRequestHandler):
    """Reads GET/HEAD query strings and POST forms into ``params``; logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self.dispatch(dict(parse_qsl(urlsplit(self.path).query)))

    def do_HEAD(self) -> None:
        self.dispatch({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.dispatch(dict(parse_qsl(self.rfile.read(length).decode())))

    def dispatch(self, params: dict[str, str]) -> None:
        """Answer the request."""
        raise NotImplementedError


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


RouteFunc = Callable[["Handler", Request], None]


@dataclass
class App:
    routes: dict[str, RouteFunc] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    log: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def requests(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


class Handler(QuietHandler):
    server: _Server

    def dispatch(self, params: dict[str, str]) -> None:
        """Log the request and answer it with its route (404 without one)."""
        app = self.server.app
        path = urlsplit(self.path).path
        request = Request(
            self.command, path, params, {k.lower(): v for k, v in self.headers.items()}
        )
        app.hits[path] += 1
        app.log.append(request)
        route = app.routes.get(path)
        try:
            if route is None:
                send(self, 404, b"not found")
            else:
                route(self, request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    app: App


@dataclass
class Server:
    app: App
    base: str

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str) -> Callable[[RouteFunc], RouteFunc]:
        def register(func: RouteFunc) -> RouteFunc:
            self.app.routes[path] = func
            return func

        return register


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, payload: Any, status: int = 200) -> None:
    send(handler, status, json.dumps(payload).encode(), content_type="application/json")


def send_cut(handler: BaseHTTPRequestHandler, data: bytes, sent: int) -> None:
    """Promise all of *data* (Content-Length), send its first *sent* bytes, then hang up."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data[:sent])
    handler.wfile.flush()
    handler.close_connection = True


def send_ranged(handler: BaseHTTPRequestHandler, request: Request, data: bytes) -> None:
    """Serve ``data``, honouring ``Range: bytes=N-``."""
    spec = request.headers.get("range", "")
    if spec.startswith("bytes=") and spec.endswith("-"):
        start = int(spec[len("bytes=") : -1])
        send(
            handler,
            206,
            data[start:],
            headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
        )
    else:
        send(handler, 200, data)


@contextlib.contextmanager
def serve() -> Iterator[Server]:
    """Run a routed server on a free port until the block ends (the ``server`` fixture)."""
    httpd = _Server(("127.0.0.1", 0), Handler)
    httpd.app = App()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    port = httpd.server_address[1]
    try:
        yield Server(httpd.app, f"http://127.0.0.1:{port}")
    finally:
        httpd.app.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
