"""The demo backend: a live-looking Lessay deployment on a loopback HTTP server.

:class:`DemoBackend` owns the simulation (:class:`DemoModel`), the HTTP server
thread, a ticker thread that advances the model once a second and writes the
log files, and the data directory (logs and backups). The console runs it in
process for ``--demo``; ``lessay-console demo-backend`` runs it in the
foreground; tests use it as a real HTTP peer.
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from lessay_console import __version__
from lessay_console.demo.backups import create_backups
from lessay_console.demo.errors import DemoBackendError
from lessay_console.demo.logs import LogWriter
from lessay_console.demo.model import WARMUP_SECONDS, DemoModel
from lessay_console.demo.scenarios import SCENARIOS
from lessay_console.demo.server import DemoHTTPServer

logger = logging.getLogger("lessay_console.demo")

#: How often the ticker advances the model and appends to the logs.
TICK_SECONDS = 1.0
# How often the idle server loop wakes up; stop() does not wait for it (it nudges).
_POLL_SECONDS = 0.5


def _bind_error(host: str, port: int, error: OSError) -> DemoBackendError:
    """The one-line, actionable message for a failed bind."""
    if error.errno == errno.EADDRINUSE:
        return DemoBackendError(
            f"port {port} on {host} is already in use; choose another with --port"
        )
    if error.errno == errno.EACCES:
        return DemoBackendError(
            f"permission denied to listen on port {port} on {host}; "
            "choose a port above 1023 with --port"
        )
    reason = error.strerror or str(error)
    return DemoBackendError(
        f"cannot listen on {host!r} port {port}: {reason}; "
        "use a local address such as 127.0.0.1 with --host"
    )


class DemoBackend:
    """A simulated Lessay deployment served over HTTP; start/stop or use as a context manager."""

    idp_delay: float = 1.0
    """Seconds the IdP endpoints take to answer 503 while it is unavailable (a timeout)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: str = "normal",
        seed: int = 1,
        data_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._host = host
        self._port = port
        self.seed = seed
        self.clock = clock
        self.wall_clock = wall_clock
        # History starts WARMUP_SECONDS back: start() simulates it, so counters
        # are non-zero and the logs hold five minutes of past lines.
        self.model = DemoModel(
            seed, scenario, clock() - WARMUP_SECONDS, wall_clock() - WARMUP_SECONDS
        )
        """The simulation; read or step it only while holding :attr:`lock`."""
        self.lock = threading.Lock()
        """Held by whoever reads or steps :attr:`model`."""
        self.started_at = self.model.start_time
        """Model time the service "started" (shown as uptime in ``/health``)."""
        self._data_dir = data_dir
        self._owns_data_dir = False
        self._server: DemoHTTPServer | None = None
        self._logs: LogWriter | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._state = "new"
        self._lifecycle = threading.Lock()

    # -- where it is ------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    @property
    def port(self) -> int:
        """The port listened on (the real one once started, if 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def data_dir(self) -> Path:
        """Where logs and backups live (a temporary directory unless one was given)."""
        if self._data_dir is None:
            raise DemoBackendError("the demo backend has no data directory before start()")
        return self._data_dir

    @property
    def backup_dir(self) -> Path:
        """The backup catalog directory."""
        return self.data_dir / "backups"

    @property
    def log_paths(self) -> dict[str, Path]:
        """JSON-lines log file per service: ``api``, ``auth``, ``payments``."""
        return LogWriter(self.data_dir / "logs").paths

    @property
    def scenario(self) -> str:
        """The current scenario's name."""
        return self.model.scenario.name

    def set_scenario(self, name: str) -> None:
        """Switch scenario (:class:`UnknownScenarioError` if unknown); numbers follow in seconds."""
        with self.advanced() as model:
            model.set_scenario(name)
        logger.info("demo backend: scenario %s", name)

    @contextmanager
    def advanced(self) -> Iterator[DemoModel]:
        """The model, locked and advanced to the clock's now."""
        with self.lock:
            self.model.advance_to(self.clock())
            yield self.model

    def describe(self, endpoints: list[str]) -> dict[str, Any]:
        """The ``GET /`` index."""
        return {
            "name": "lessay-demo-backend",
            "version": __version__,
            "url": self.url,
            "scenario": self.scenario,
            "scenarios": list(SCENARIOS),
            "endpoints": endpoints,
            "data_dir": str(self.data_dir),
            "logs": {name: str(path) for name, path in self.log_paths.items()},
            "backup_dir": str(self.backup_dir),
        }

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Bind, prepare the data directory, warm up, then serve and tick in daemon threads."""
        with self._lifecycle:
            if self._state != "new":
                raise DemoBackendError(f"the demo backend is {self._state}; create a new one")
            if not 0 <= self._port <= 65535:
                raise DemoBackendError(f"port {self._port} is not in 0-65535; fix --port")
            try:
                server = DemoHTTPServer(self._host, self._port, self)
            except OSError as exc:
                raise _bind_error(self._host, self._port, exc) from None
            self._port = int(server.server_address[1])
            try:
                self._prepare_data()
            except OSError as exc:
                server.server_close()
                where = exc.filename or self._data_dir
                if self._owns_data_dir:  # a retry makes a fresh temporary dir
                    self._remove_own_data_dir()
                    self._data_dir = None
                raise DemoBackendError(
                    f"cannot write demo data in {where}: {exc.strerror or exc}; "
                    "choose another directory with --data-dir"
                ) from None
            self._server = server
            self._threads = [
                threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": _POLL_SECONDS},
                    name="lessay-demo-http",
                    daemon=True,
                ),
                threading.Thread(target=self._tick_loop, name="lessay-demo-ticker", daemon=True),
            ]
            for thread in self._threads:
                thread.start()
            self._state = "running"
            logger.info("demo backend: serving %s (scenario %s)", self.url, self.scenario)

    def _prepare_data(self) -> None:
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="lessay-demo-"))
            self._owns_data_dir = True
        else:
            self._data_dir.mkdir(parents=True, exist_ok=True)
        self._logs = LogWriter(self._data_dir / "logs")
        self._logs.reset()
        self._flush_logs()  # the warm-up: five minutes of history
        create_backups(self.backup_dir, self.wall_clock(), self.seed)

    def _flush_logs(self) -> None:
        """Advance to now and append the lines made since the last flush."""
        with self.advanced() as model:
            records = model.drain_logs()
        if records and self._logs is not None:
            self._logs.write(records)

    def _tick_loop(self) -> None:
        write_failed = False
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self._flush_logs()
                write_failed = False
            except OSError as exc:
                if not write_failed:  # once per outage, not once a second
                    logger.warning("demo backend: cannot write logs: %s", exc)
                write_failed = True
            except Exception:
                logger.exception("demo backend: ticker step failed")

    def stop(self) -> None:
        """Stop serving and ticking, join the threads, remove a temporary data dir. Idempotent."""
        with self._lifecycle:
            if self._state != "running" or self._server is None:
                return
            self._stopping.set()
            self._server.stop_serving()
            self._server.close_connections()
            self._server.server_close()
            for thread in self._threads:
                thread.join(timeout=5.0)
            if self._owns_data_dir:
                self._remove_own_data_dir()
            else:
                try:
                    self._flush_logs()  # a kept data dir gets the last second's lines too
                except OSError as exc:
                    logger.warning("demo backend: cannot write logs: %s", exc)
            self._state = "stopped"
            logger.info("demo backend: stopped")

    def _remove_own_data_dir(self) -> None:
        if self._owns_data_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._owns_data_dir = False

    def __enter__(self) -> DemoBackend:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
