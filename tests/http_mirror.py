"""A real HTTP server on 127.0.0.1 for the download tests, with switchable faults.

:class:`MirrorServer` serves a route table (URL path -> bytes or local file) and
directory roots, counts requests per path, and can misbehave on purpose for a given
path (or for every path: ``"*"``): ``truncate`` (announce the full length, send half,
close), ``status`` (e.g. 404, 503), ``slow`` (wait before answering, to trigger client
timeouts), ``html`` (answer ``200 text/html`` with a login page, as a captive portal or
a filtering proxy does), ``drip`` (send the body one byte every ``delay`` seconds, so
that no single read times out), ``redirect`` (a 302 to the same address, forever).
It also acts as an HTTP proxy stub: an absolute-form request
(``GET http://host/path``) is served from route ``/host/path`` and remembered in
:attr:`MirrorServer.proxied`; a ``CONNECT`` (HTTPS through a proxy) is remembered in
:attr:`MirrorServer.connects` and refused with 403, since no TLS is spoken here.

Test modules use the fixture: ``from http_mirror import http_mirror  # noqa: F401``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

#: What a hotel / station captive portal answers to any request.
PORTAL_PAGE = (
    b"<!DOCTYPE html>\n<html lang=\"fr\"><head><title>Wi-Fi - Connexion</title></head>"
    b"<body><form action=\"/login\"><p>Acceptez les conditions d'utilisation.</p>"
    b"<button>Se connecter</button></form></body></html>\n"
)


@dataclass
class Fault:
    kind: str  # "truncate", "status", "slow", "html", "drip" or "redirect"
    status: int = 404
    delay: float = 2.0
    times: int | None = None  # None: every request; n: the next n requests only


class MirrorServer:
    """Threaded loopback HTTP server; see the module docstring."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Path] = {}
        self.roots: list[tuple[str, Path]] = []
        self.faults: dict[str, Fault] = {}
        self.hits: Counter[str] = Counter()
        self.proxied: list[str] = []
        self.connects: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration ------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, content: bytes | str | Path) -> None:
        """Serve ``content`` (bytes, or a local file) at URL path ``path``."""
        if isinstance(content, str):
            content = content.encode()
        self.routes[self._norm(path)] = content

    def add_dir(self, prefix: str, root: Path) -> None:
        """Serve the files under ``root`` at ``prefix/<relative path>``."""
        self.roots.append((self._norm(prefix).rstrip("/") + "/", Path(root)))

    def fault(self, path: str, kind: str, **kwargs) -> None:
        """Make requests for ``path`` (``"*"``: every path) fail; kinds: see the module doc."""
        self.faults["*" if path == "*" else self._norm(path)] = Fault(kind, **kwargs)

    def clear_faults(self) -> None:
        self.faults.clear()

    def count(self, path: str) -> int:
        return self.hits[self._norm(path)]

    @staticmethod
    def _norm(path: str) -> str:
        path = unquote(urlsplit(path).path) if "://" in path else unquote(path.split("?")[0])
        return path if path.startswith("/") else "/" + path

    # -- serving ------------------------------------------------------------------------
    def _lookup(self, path: str) -> bytes | None:
        if path in self.routes:
            content = self.routes[path]
            return content.read_bytes() if isinstance(content, Path) else content
        for prefix, root in self.roots:
            if path.startswith(prefix):
                rel = path[len(prefix):]
                candidate = (root / rel).resolve()
                if candidate.is_file() and candidate.is_relative_to(root.resolve()):
                    return candidate.read_bytes()
        return None

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            key = path if path in self.faults else "*"
            fault = self.faults.get(key)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[key]
            return fault

    def start(self) -> MirrorServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_CONNECT(self):
                with server._lock:
                    server.connects.append(self.path)
                self.send_response(403, "Forbidden by the qpvgeo test proxy")
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def do_GET(self):
                raw = self.path
                if raw.startswith(("http://", "https://")):
                    parts = urlsplit(raw)
                    with server._lock:
                        server.proxied.append(raw)
                    path = unquote(f"/{parts.netloc}{parts.path}")
                else:
                    path = unquote(raw.split("?")[0])
                with server._lock:
                    server.hits[path] += 1
                fault = server._take_fault(path)
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay)
                if fault is not None and fault.kind == "status":
                    return self._send_status(fault.status)
                if fault is not None and fault.kind == "html":
                    return self._send(PORTAL_PAGE, "text/html; charset=utf-8")
                if fault is not None and fault.kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", raw)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server._lookup(path)
                if body is None:
                    return self._send_status(404)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                if fault is not None and fault.kind == "truncate":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                self.end_headers()
                if fault is not None and fault.kind == "drip":
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(fault.delay)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _send(self, body: bytes, content_type: str):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _send_status(self, status: int):
                body = f"status {status}\n".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@pytest.fixture
def http_mirror():
    """A started :class:`MirrorServer` on 127.0.0.1, stopped after the test."""
    server = MirrorServer().start()
    try:
        yield server
    finally:
        server.stop()
