"""A loopback HTTP server whose answers each test scripts: the bad inputs a source must survive."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "text/plain; version=0.0.4"
    length: bool = True  # send Content-Length (not possible for an iterable body)
    extra_headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[], Answer]


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route]
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers.items()))
        route = self.routes.get(self.path.split("?")[0])
        answer = route() if route else Answer(404, b"not found")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        for name, value in answer.extra_headers.items():
            self.send_header(name, value)
        if isinstance(answer.body, bytes):
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            return
        self.end_headers()  # no length: the body runs until the connection closes
        try:
            for chunk in answer.body:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should past its cap
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def scripted_server(routes: dict[str, Route]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve `routes` on a free loopback port; yield the base URL and the request headers seen."""
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Handler,), {"routes": routes, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung host."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
