"""Starting and stopping the backend: ports, data directories, errors an operator reads."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from lessay_console.demo import DemoBackend, DemoBackendError, UnknownScenarioError


def test_port_in_use_is_a_one_line_error(make_backend: Callable[..., DemoBackend]) -> None:
    first = make_backend()
    second = DemoBackend(port=first.port)
    with pytest.raises(DemoBackendError) as error:
        second.start()
    message = str(error.value)
    assert message == (
        f"port {first.port} on 127.0.0.1 is already in use; choose another with --port"
    )
    assert "\n" not in message
    second.stop()  # harmless on a backend that never started


def test_unknown_scenario_names_the_valid_ones() -> None:
    with pytest.raises(UnknownScenarioError) as error:
        DemoBackend(scenario="chaos")
    assert isinstance(error.value, ValueError)
    assert isinstance(error.value, DemoBackendError)
    assert str(error.value) == (
        "unknown scenario 'chaos'; choose one of: normal, high-latency, payment-failures, "
        "login-failures, db-exhaustion, error-spike"
    )


def test_set_scenario_refuses_unknown_names(backend: DemoBackend) -> None:
    with pytest.raises(UnknownScenarioError):
        backend.set_scenario("chaos")
    assert backend.scenario == "normal"


def test_a_bad_host_or_port_is_a_one_line_error() -> None:
    with pytest.raises(DemoBackendError, match="use a local address") as error:
        DemoBackend(host="203.0.113.7").start()  # TEST-NET-3: never a local address
    assert "\n" not in str(error.value)
    with pytest.raises(DemoBackendError, match="not in 0-65535"):
        DemoBackend(port=70000).start()


def test_stop_removes_the_temporary_dir_and_frees_the_port() -> None:
    backend = DemoBackend()
    backend.start()
    data_dir, port = backend.data_dir, backend.port
    assert data_dir.name.startswith("lessay-demo-")
    assert (data_dir / "logs" / "api.jsonl").exists()
    with httpx.Client(base_url=backend.url) as http:
        assert http.get("/health").status_code == 200  # leaves a keep-alive connection open
        backend.stop()
    assert not data_dir.exists()
    backend.stop()  # idempotent

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
    again = DemoBackend(port=port)
    again.start()
    again.stop()


def test_a_given_data_dir_is_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    with DemoBackend(data_dir=data_dir) as backend:
        assert backend.data_dir == data_dir
        assert backend.backup_dir == data_dir / "backups"
        assert backend.log_paths["api"] == data_dir / "logs" / "api.jsonl"
    assert (data_dir / "logs" / "api.jsonl").stat().st_size > 0
    assert any((data_dir / "backups").iterdir())


def test_an_unwritable_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    backend = DemoBackend(data_dir=blocker / "demo")
    with pytest.raises(DemoBackendError, match="--data-dir") as error:
        backend.start()
    assert "\n" not in str(error.value)
    backend.stop()


def test_url_host_and_port_follow_the_bind(backend: DemoBackend) -> None:
    assert backend.host == "127.0.0.1"
    assert backend.port > 0
    assert backend.url == f"http://127.0.0.1:{backend.port}"


def test_a_backend_starts_once(backend: DemoBackend) -> None:
    with pytest.raises(DemoBackendError):
        backend.start()


def test_data_dir_is_unknown_before_start() -> None:
    with pytest.raises(DemoBackendError, match="before start"):
        _ = DemoBackend().data_dir


def test_ipv6_loopback(make_backend: Callable[..., DemoBackend]) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    backend = make_backend(host="::1")
    assert backend.url == f"http://[::1]:{backend.port}"
    assert httpx.get(f"{backend.url}/health").status_code == 200


def test_the_package_imports_only_stdlib_and_prometheus_client() -> None:
    code = (
        "import sys; before = set(sys.modules); import lessay_console.demo; "
        "print(','.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.strip().split(","))
    assert "textual" not in loaded
    assert "httpx" not in loaded
    assert loaded - sys.stdlib_module_names <= {"lessay_console", "prometheus_client"}


def test_a_garbled_request_is_answered_not_crashed_on(backend: DemoBackend) -> None:
    with socket.create_connection((backend.host, backend.port), timeout=5) as raw:
        raw.sendall(b"POST /demo/scenario HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")
    with socket.create_connection((backend.host, backend.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert b" 400 " in raw.recv(1024)
    assert httpx.get(f"{backend.url}/health").status_code == 200
