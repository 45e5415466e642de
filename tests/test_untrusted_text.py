"""Untrusted text reaches the terminal as text: the console in a real pseudo-terminal.

A user symptom's checks (a command printing the payloads, a log file holding
them) bring terminal escape sequences, control characters, Rich markup and a
DSN with its password. The recorded terminal output must show each of them as
visible characters: no sequence reaches the terminal to retitle the window,
write the clipboard, plant a link or move the cursor; no markup is interpreted;
the password never appears.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.wizard_support import (
    command_check,
    console_in_pty,
    diagnose_last_symptom,
    toml_string,
    write_user_symptom,
)

pytestmark = pytest.mark.pty

PAYLOADS = {
    "osc52": "\x1b]52;c;ZXZpbA==\x07",  # writes the clipboard
    "title": "\x1b]0;pwned\x07",  # retitles the window
    "osc8": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # a hidden link
    "dsr": "\x1b[6n",  # asks the terminal to type its cursor position back
    "sgr": "\x1b[31;1;4;7m",  # colours in an order Rich never writes
    "c1": "\x9b2J",  # the one-character CSI: erase the display
    "bel": "bell\x07",
    "markup": "[bold red]x[/] [link=http://evil.example]y[/link]",
    "dsn": "postgresql://u:hunter2@db.example/lessay",
}
# what each payload looks like once made visible
SHOWN = {
    "osc52": r"\x1b]52;c;ZXZpbA==\x07",
    "title": r"\x1b]0;pwned\x07",
    "osc8": "\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\",
    "dsr": r"\x1b[6n",
    "sgr": r"\x1b[31;1;4;7m",
    "c1": r"\x9b2J",
    "bel": r"bell\x07",
    "markup": "[bold red]x[/] [link=http://evil.example]y[/link]",
    "dsn": "postgresql://u:***@db.example/lessay",
}
# Never written by the console itself: found in the output, they came from a payload.
RAW = [
    re.compile(rb"\x1b\]52;"),
    re.compile(rb"\x1b\]0;pwned"),
    re.compile(rb"\x1b\]8;[^;\x07\x1b]*;http://evil"),
    re.compile(re.escape(b"\x1b[6n")),
    re.compile(re.escape(b"\x1b[31;1;4;7m")),
    re.compile(rb"\xc2\x9b"),  # U+009B, encoded
    re.compile(rb"hunter2"),
]
# Textual's own OSC (the mouse pointer's shape) ends with BEL; no other BEL may come.
OWN_BEL = re.compile(rb"\x1b\]22;[a-z-]*\x07")
# the last line: once it is on screen, the payloads above it have been written too
SENTINEL = "ERROR end-of-payloads"


def payload_file(path: Path) -> Path:
    lines = [f"ERROR {name}: {payload}".encode() for name, payload in PAYLOADS.items()]
    lines.append(b"ERROR raw: \x9b2J")  # a lone C1 byte, not even UTF-8
    lines.append(SENTINEL.encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def hostile_symptom(payloads: Path) -> str:
    return (
        """
[symptom.hostile-output]
title = "Hostile output (test)"
description = "Checks whose output carries escape sequences and markup."
escalation = "Senior Engineer"

"""
        + command_check("printer", "Hostile printer", ["cat", str(payloads)], "hostile-output")
        + f"""
[[symptom.hostile-output.check]]
id = "log"
kind = "logs"
file = {toml_string(str(payloads))}
since = "1h"
title = "Hostile log"

[[symptom.hostile-output.resolution]]
title = "Read it"
steps = ["Read the output."]
"""
    )


def assert_nothing_raw(output: bytes) -> None:
    for pattern in RAW:
        found = pattern.search(output)
        assert found is None, f"{pattern.pattern!r} reached the terminal (byte {found.start()})"
    assert b"\x07" not in OWN_BEL.sub(b"", output), "a BEL reached the terminal"
    decoded = output.decode("utf-8", "surrogateescape")
    assert "\udc9b" not in decoded, "a raw C1 CSI byte reached the terminal"
    assert "\x9b" not in decoded, "a C1 CSI reached the terminal"


def assert_shown(text: str) -> None:
    """Each payload, made visible; the raw byte as the replacement character."""
    for name, visible in SHOWN.items():
        assert visible in text, f"{name} not shown as {visible!r}"
    assert "ERROR raw: \ufffd2J" in text


def test_escape_sequences_and_markup_from_checks_never_reach_the_terminal(
    tmp_path: Path,
) -> None:
    write_user_symptom("hostile", hostile_symptom(payload_file(tmp_path / "payloads.log")))
    with console_in_pty(tmp_path / "state", "alice") as process:
        diagnose_last_symptom(process, "Hostile output (test)")
        # the command's output, in the detail of the first check
        process.wait_for(lambda screen: "Checks 2/2 done" in screen, timeout=20)
        process.wait_for(lambda screen: SENTINEL in screen)
        assert_nothing_raw(bytes(process.output))
        assert_shown(process.text())
        # the log file's lines, in the detail of the second
        mark = len(process.text())
        process.send(b"\x1b[B")  # down
        process.wait_for(lambda screen: "(logs)" in screen[mark:] and SENTINEL in screen[mark:])
        assert_nothing_raw(bytes(process.output))
        assert_shown(process.text()[mark:])
        process.send(b"q")
        assert process.wait() == 0
    assert_nothing_raw(bytes(process.output))
