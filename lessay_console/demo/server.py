"""The demo backend's HTTP side: a stdlib threading server and its routes.

Every route first advances the model to "now" under the backend's lock, so a
scrape sees numbers as fresh as the clock. Access and error lines go to the
``lessay_console.demo`` logger, never to stderr: in ``--demo`` mode this server
runs inside the TUI, where a stray write would corrupt the screen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lessay_console import __version__
from lessay_console.demo import documents
from lessay_console.demo.errors import UnknownScenarioError
from lessay_console.demo.exposition import render_metrics
from lessay_console.demo.fleet import DeploymentRejectedError, parse_deploy_request
from lessay_console.demo.scenarios import SCENARIOS
from lessay_console.demo.timestamps import iso_utc
from lessay_console.redaction import redact

if TYPE_CHECKING:
    from lessay_console.demo.backend import DemoBackend

logger = logging.getLogger("lessay_console.demo")

_MAX_BODY_BYTES = 64 * 1024
_JSON = "application/json"


@dataclass
class Response:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    """A JSON response, indented for people reading it with curl."""
    return Response(status, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))


def error_response(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status``."""
    return json_response(status, {"error": message})


Route = Callable[["DemoBackend", bytes, "DemoRequestHandler"], Response]


def _index(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    return json_response(
        200, backend.describe(sorted(f"{m} {p}" for p, ms in ROUTES.items() for m in ms))
    )


def _health(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    with backend.advanced() as model:
        node = model.fleet.next_serving_node()
        status, payload = documents.health(
            model, node, model.now - backend.started_at, model.wall_time(model.now)
        )
    return json_response(status, payload)


def _metrics(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    with backend.advanced() as model:
        data, content_type = render_metrics(model, request.headers.get("Accept", ""))
    return Response(200, data, content_type)


def _status(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    with backend.advanced() as model:
        payload = documents.status_page_status(model, backend.url, model.wall_time(model.now))
    return json_response(200, payload)


def _summary(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    with backend.advanced() as model:
        payload = documents.status_page_summary(model, backend.url, model.wall_time(model.now))
    return json_response(200, payload)


def _idp(document: Callable[[DemoBackend], dict[str, Any]]) -> Route:
    """An IdP route: answers 503 after a timeout-like delay while the IdP is unavailable."""

    def route(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
        with backend.advanced() as model:
            unavailable = model.scenario.idp_unavailable
        if unavailable:
            time.sleep(backend.idp_delay)  # outside the lock: other requests go on
            return error_response(503, "identity provider unavailable")
        return json_response(200, document(backend))

    return route


def _bad_scenario(reason: str) -> Response:
    valid = ", ".join(SCENARIOS)
    return error_response(400, f'{reason}; send {{"scenario": NAME}} with NAME one of: {valid}')


def _scenario(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    if request.command in ("PUT", "POST"):
        try:
            parsed = json.loads(body)
        except ValueError as exc:  # includes a body that is not UTF-8
            return _bad_scenario(f"invalid JSON body ({exc})")
        name = parsed.get("scenario") if isinstance(parsed, dict) else None
        if not isinstance(name, str):
            return _bad_scenario("no scenario name in the body")
        try:
            backend.set_scenario(name)
        except UnknownScenarioError as exc:
            return error_response(400, str(exc))  # the message lists the valid names
    with backend.advanced() as model:
        payload = {
            "scenario": model.scenario.name,
            "description": model.scenario.description,
            "available": list(SCENARIOS),
            "since": iso_utc(model.wall_time(model.scenario_since)),
        }
    return json_response(200, payload)


def _fleet(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    with backend.advanced() as model:
        payload = model.fleet.to_json(lambda t: iso_utc(model.wall_time(t)))
    return json_response(200, payload)


def _deploy(backend: DemoBackend, body: bytes, request: DemoRequestHandler) -> Response:
    try:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise DeploymentRejectedError(400, f"invalid JSON body: {exc}") from None
        version, percent = parse_deploy_request(parsed)
        with backend.advanced() as model:
            model.fleet.deploy(version, percent, model.now)
            payload = model.fleet.to_json(lambda t: iso_utc(model.wall_time(t)))
    except DeploymentRejectedError as exc:
        return error_response(exc.status, str(exc))
    return json_response(202, payload)


#: Path -> method -> route. HEAD is answered wherever GET is.
ROUTES: dict[str, dict[str, Route]] = {
    "/": {"GET": _index},
    "/health": {"GET": _health},
    "/metrics": {"GET": _metrics},
    "/status/api/v2/status.json": {"GET": _status},
    "/status/api/v2/summary.json": {"GET": _summary},
    "/idp/.well-known/openid-configuration": {
        "GET": _idp(lambda backend: documents.openid_configuration(backend.url))
    },
    "/idp/jwks.json": {"GET": _idp(lambda backend: documents.jwks(backend.seed))},
    "/demo/scenario": {"GET": _scenario, "PUT": _scenario, "POST": _scenario},
    "/fleet": {"GET": _fleet},
    "/fleet/deploy": {"POST": _deploy},
}


class DemoRequestHandler(BaseHTTPRequestHandler):
    """Dispatches to :data:`ROUTES`; 404 for an unknown path, 405 for a wrong method."""

    server: DemoHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the console's httpx clients expect
    server_version = f"lessay-demo/{__version__}"
    timeout = 30.0  # an idle keep-alive connection gives its thread back
    # Headers and body go out in two writes; with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms per request on keep-alive connections).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        """Every method goes through one dispatcher (http.server calls ``do_<METHOD>``)."""
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length", "0").strip()
        if not length.isdigit() or int(length) > _MAX_BODY_BYTES:
            self.close_connection = True  # the body cannot be skipped safely
            if length.isdigit():
                self._send(error_response(413, f"body must be at most {_MAX_BODY_BYTES} bytes"))
            else:
                self._send(error_response(400, f"bad Content-Length {length!r}"))
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        path = urlsplit(self.path).path
        methods = ROUTES.get(path)
        method = "GET" if self.command == "HEAD" else self.command
        if methods is None:
            response = error_response(404, f"no such endpoint: {path}; see GET /")
        elif method not in methods:
            allowed = ", ".join(sorted(methods))
            response = error_response(405, f"{self.command} not allowed on {path}; use {allowed}")
            response.headers["Allow"] = allowed
        else:
            try:
                response = methods[method](self.server.backend, body, self)
            except Exception:
                logger.exception("demo backend: %s %s failed", self.command, path)
                response = error_response(500, "internal error in the demo backend")
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines to the logger, not stderr."""
        # redacted: a request line may carry a token in its query string
        logger.info("%s %s", self.address_string(), redact(format % args))

    def log_error(self, format: str, *args: Any) -> None:
        """Protocol errors (bad request lines, timeouts) to the logger, not stderr."""
        logger.warning("%s %s", self.address_string(), redact(format % args))


class DemoHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its backend and its open connections."""

    daemon_threads = True

    def __init__(self, host: str, port: int, backend: DemoBackend) -> None:
        # An IPv6 literal needs an AF_INET6 socket; names and IPv4 use AF_INET.
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), DemoRequestHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (``getfqdn``), which can take seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop_serving(self) -> None:
        """``shutdown()`` without waiting out ``serve_forever``'s poll interval.

        The loop only sees the shutdown flag when its ``select`` returns; a
        throwaway connection makes it return now. Nudged until the loop has
        ended, since a nudge landing just before the flag is set is used up.
        """
        host, port = self.server_address[:2]
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
        address = (wildcard.get(str(host), str(host)), int(port))
        stopper = threading.Thread(target=self.shutdown, name="lessay-demo-stop", daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(address, timeout=0.1).close()
            stopper.join(0.01)

    def close_connections(self) -> None:
        """End open keep-alive connections so their handler threads return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of socketserver's traceback on stderr (the TUI owns the terminal)."""
        logger.debug("demo backend: connection from %s failed", client_address, exc_info=True)
