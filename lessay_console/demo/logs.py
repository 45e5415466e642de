"""JSON-lines log files of the simulated services, with size-based rotation.

One file per service (``logs/api.jsonl``, ...), appended by the backend's ticker
(never by request handlers), rotated like logrotate's ``size`` + ``rotate 1``:
past :data:`ROTATE_BYTES` the file becomes ``<name>.1`` and a new one starts,
so a console following the file sees a rotation as it would in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lessay_console.demo.model import SERVICES

ROTATE_BYTES = 5 * 1024 * 1024


def rotated_path(path: Path) -> Path:
    """Where ``path`` goes when rotated: ``api.jsonl`` -> ``api.jsonl.1``."""
    return path.with_name(path.name + ".1")


class LogWriter:
    """Appends records to one file per service."""

    def __init__(self, directory: Path, max_bytes: int = ROTATE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.paths = {service: directory / f"{service}.jsonl" for service in SERVICES}

    def reset(self) -> None:
        """Create the directory and start every file empty: each start is a fresh simulation."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.paths.values():
            path.write_bytes(b"")
            rotated_path(path).unlink(missing_ok=True)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Append ``records`` (each with a ``service`` key) to their files, rotating as needed."""
        lines: dict[str, list[str]] = {}
        for record in records:
            lines.setdefault(record["service"], []).append(
                json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
            )
        for service, batch in lines.items():
            path = self.paths[service]
            data = "".join(batch).encode("utf-8")
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                path.replace(rotated_path(path))
            # Opened per batch (once a second): an operator deleting or moving the
            # file does not leave the writer appending to an unlinked inode.
            with path.open("ab") as handle:
                handle.write(data)
