"""One sanitizer for every untrusted string before it is shown or exported.

Command output, log lines, query texts, labels and HTTP bodies may carry
terminal escape sequences (an OSC 52 that writes the clipboard, an OSC 0 that
retitles the window, an OSC 8 link, CSI cursor moves) or control characters.
Neither Rich nor Textual strips ESC, so each such character is replaced here
by a visible escape (`\\x1b`, `\\x9b`, `\\u202e`) that reads as the bytes that
came. Rich markup is not touched here: the UI shows untrusted text as plain
`Content`/`Text`, never through the markup parser.

The result contains no character this function would replace, so applying it
twice changes nothing more (a backslash is kept as it is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# C0 controls except newline and tab, DEL, C1 controls (0x9b is a one-byte
# CSI), and the bidirectional overrides and isolates that reorder what is
# shown ("Trojan Source"), plus the line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control and reordering character made visible; newlines kept."""
    return _UNSAFE.sub(_visible, text)


def printable_line(text: str) -> str:
    """`text` on one line: newlines and tabs made visible too (table cells, summaries)."""
    return printable(text).replace("\n", "\\n").replace("\t", " ")


def scrub(value: Any) -> Any:
    """Structured data (JSON-like) with every string redacted and made printable."""
    from lessay_console.redaction import redact

    if isinstance(value, str):
        return printable(redact(value))
    if isinstance(value, Mapping):
        return {printable(redact(str(k))): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
