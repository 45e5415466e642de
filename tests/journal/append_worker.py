"""A console that only appends: for the kill -9 and two-process tests.

    python append_worker.py JOURNAL STREAM {sync,async}

Opens the journal, prints "ready", waits for a line on stdin, then appends
{"i": 0}, {"i": 1}, ... to STREAM until killed, printing "SEQ I" after each
append has returned, so that every line printed is a promise of durability.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lessay_console.identity import Operator
from lessay_console.journal import Journal


def payload(number: int) -> dict[str, object]:
    return {"i": number, "text": f"event {number} ✓", "values": [number, number / 7]}


def report(seq: int, number: int) -> None:
    sys.stdout.write(f"{seq} {number}\n")
    sys.stdout.flush()


def append_forever(journal: Journal, stream: str) -> None:
    number = 0
    while True:
        report(journal.append(stream, "tick", payload(number)).seq, number)
        number += 1


async def append_forever_async(journal: Journal, stream: str) -> None:
    number = 0
    while True:
        report((await journal.append_async(stream, "tick", payload(number))).seq, number)
        number += 1


def main() -> None:
    path, stream, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    journal = Journal.open(path, Operator(name=stream, host="worker-host", ssh_client=None))
    print("ready", flush=True)
    sys.stdin.readline()
    if mode == "async":
        asyncio.run(append_forever_async(journal, stream))
    else:
        append_forever(journal, stream)


if __name__ == "__main__":
    main()
