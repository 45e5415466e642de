"""Secret values referenced from the configuration as `env:NAME` or `file:PATH`.

The configuration file never holds a secret in clear; it names where the
secret lives. A `Secret` keeps the reference for display and the resolved
value for use, and never prints the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lessay_console.redaction import redact


class SecretError(ValueError):
    """A reference that cannot be resolved; the message says what to do."""


@dataclass(frozen=True)
class Secret:
    """A resolved secret. `str()` and `repr()` show the reference, never the value."""

    reference: str  # "env:NAME", "file:PATH", or a literal without a credential
    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The value, for the one place that needs it (a connection, a header)."""
        return self._value

    def display(self) -> str:
        """The reference and, for a literal, the value with credentials masked."""
        return redact(self.reference)

    def __str__(self) -> str:
        return self.display()


def resolve_secret(reference: str, base_dir: Path | None = None) -> Secret:
    """Resolve `env:NAME`, `file:PATH` (relative to the config file) or a literal."""
    if reference.startswith("env:"):
        name = reference[4:]
        if not name:
            raise SecretError('env: needs a variable name, as in "env:LESSAY_PG_DSN"')
        value = os.environ.get(name)
        if value is None:
            raise SecretError(
                f"environment variable {name} is not set; export it, or use file:PATH"
            )
        return Secret(reference, value)
    if reference.startswith("file:"):
        path = Path(reference[5:]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SecretError(f"secret file {path} does not exist") from None
        except OSError as error:
            raise SecretError(f"secret file {path} cannot be read: {error.strerror}") from None
        return Secret(reference, value)
    return Secret(reference, reference)
