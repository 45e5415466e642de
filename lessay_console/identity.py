"""Who is at the console and from where: recorded with every journal event, shown in the header."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Operator:
    name: str
    host: str
    ssh_client: str | None  # the address the SSH session came from, if any

    def __str__(self) -> str:
        return f"{self.name}@{self.host}"


def current_operator(explicit: str | None = None) -> Operator:
    """--operator, else the user behind sudo, else the login user (DESIGN section 8)."""
    name = explicit or os.environ.get("SUDO_USER") or os.environ.get("USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    ssh = os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION")
    return Operator(
        name=name, host=socket.gethostname(), ssh_client=ssh.split()[0] if ssh else None
    )
