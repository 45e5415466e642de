"""Where the console's bytes to the terminal go: by widget, by row, by second.

Run: .venv/bin/python benchmarks/terminal_traffic.py [--seconds 20] [--settle 3]
         [--cols 120] [--rows 40] [--low-bandwidth] [--json] [--save FILE]

A diagnostic for tuning the redraw, not a benchmark figure. It runs
`lessay-console --demo` in a real pseudo-terminal, waits until the dashboard
shows the API p95 in ms, lets it settle, then records everything written to
the terminal for --seconds, with the time each read arrived. It replays the
recording through a small terminal emulator (`vt.py`) that tracks the cursor
(`CSI row;col H` and the rest), so every byte is put on the cell it was
written at: a style (SGR) is counted on the cell of the character it colours,
a cursor move on the cell it moves to.

Reported:
- totals: bytes/s, updates/s (an update is a burst of reads less than 10 ms
  apart: one frame written), the split between text, style (SGR) and control
  (cursor moves and the rest), cells written per second against cells whose
  character or style really changed, and the style bytes that only re-set
  the style the cell to the left already had (what merging runs would save);
- per widget: the panes found on the screen by their box-drawing borders
  (named by their title), the header (row 1), the alert bar (row 2) and the
  footer (last row); each with its lines;
- per second: bytes and the widgets written.

--save FILE keeps the whole raw output (from exec) for a closer look.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ptybench import RecordedPty, Watch  # noqa: E402
from benchmarks.run import CONSOLE, CONSOLE_P95, env  # noqa: E402
from benchmarks.vt import Screen  # noqa: E402

BURST_GAP = 0.010  # reads closer than this belong to one update
TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT = "╭┌╔┏", "╮┐╗┓", "╰└╚┗"
HORIZONTAL, VERTICAL = "─═━", "│║┃"
KINDS = ("text", "style", "control")


@dataclass
class Region:
    name: str
    top: int
    left: int
    bottom: int
    right: int
    lines: dict[int, str] = field(default_factory=dict)  # row: what it shows


def find_panes(screen: Screen) -> list[Region]:
    """Boxes drawn with box-drawing characters, named by the text on their first inner line."""
    cells = [screen.line(row) for row in range(screen.rows)]
    panes = []
    for top, line in enumerate(cells):
        for left, char in enumerate(line):
            if char not in TOP_LEFT:
                continue
            right = left + 1
            while right < len(line) and line[right] in HORIZONTAL:
                right += 1
            if right >= len(line) or line[right] not in TOP_RIGHT:
                continue
            bottom = top + 1
            while bottom < screen.rows and cells[bottom][left] in VERTICAL:
                bottom += 1
            if bottom >= screen.rows or cells[bottom][left] not in BOTTOM_LEFT:
                continue
            inner = cells[top + 1][left + 1 : right].strip() if bottom > top + 1 else ""
            title = re.split(r"\s{2,}", inner)[0] if inner else f"box at {top + 1};{left + 1}"
            panes.append(Region(f"pane {title}", top, left, bottom, right))
    return panes


def regions_of(screen: Screen) -> tuple[list[Region], dict[tuple[int, int], Region]]:
    """Every cell's widget: a pane, the header, the alert bar, the footer, or a row of its own."""
    regions = find_panes(screen)
    last = screen.rows - 1
    regions += [
        Region("header (row 1)", 0, 0, 0, screen.cols - 1),
        Region("alert bar (row 2)", 1, 0, 1, screen.cols - 1),
        Region(f"footer (row {last + 1})", last, 0, last, screen.cols - 1),
    ]
    where: dict[tuple[int, int], Region] = {}
    for region in regions:
        for row in range(region.top, region.bottom + 1):
            text = screen.line(row)[region.left : region.right + 1]
            region.lines[row] = text.strip(" " + VERTICAL)
            for col in range(region.left, region.right + 1):
                where.setdefault((row, col), region)
    for row in range(screen.rows):  # anything else: one region per row (the 80x24 layout)
        for col in range(screen.cols):
            if (row, col) not in where:
                text = screen.line(row).strip()
                label = re.split(r"\s{2,}", text)[0][:24] or "(blank)"
                name = f"row {row + 1}: {label}"
                region = next((r for r in regions if r.name == name), None)
                if region is None:
                    region = Region(name, row, 0, row, screen.cols - 1, {row: text})
                    regions.append(region)
                where[row, col] = region
    return regions, where


def bursts(
    chunks: list[tuple[float, int]], start: float, end: float
) -> list[tuple[float, int, int]]:
    """(time, first offset, last offset) of each update that arrived in [start, end)."""
    result: list[tuple[float, int, int]] = []
    previous_offset, previous_time = 0, None
    for arrived, offset in chunks:
        if start <= arrived < end:
            if previous_time is not None and arrived - previous_time < BURST_GAP and result:
                first_time, first, _ = result[-1]
                result[-1] = (first_time, first, offset)
            else:
                result.append((arrived, previous_offset, offset))
            previous_time = arrived
        previous_offset = offset
    return result


def record(args: argparse.Namespace) -> tuple[bytes, list[tuple[float, int]], float, float]:
    flags = ["--low-bandwidth"] if args.low_bandwidth else []
    with tempfile.TemporaryDirectory() as state:
        argv = [*CONSOLE, "--demo", "--state-dir", state, *flags]
        pty = RecordedPty(argv, env(), args.cols, args.rows)
        try:
            Watch(pty, args.cols, args.rows).wait(CONSOLE_P95, timeout=60)
            time.sleep(args.settle)
            start = time.perf_counter()
            time.sleep(args.seconds)
            end = time.perf_counter()
            data, chunks = pty.snapshot()
        finally:
            pty.quit()
    return data, chunks, start, end


def analyse(
    data: bytes, chunks: list[tuple[float, int]], start: float, end: float, cols: int, rows: int
) -> dict[str, Any]:
    seconds = end - start
    updates = bursts(chunks, start, end)
    screen = Screen(cols, rows)
    first_offset = updates[0][1] if updates else len(data)
    screen.feed(data[:first_offset])  # the screen as it was when the window opened
    per_cell: Counter[tuple[int, int, str]] = Counter()
    written: Counter[tuple[int, int]] = Counter()
    changed: Counter[tuple[int, int]] = Counter()
    redundant = 0
    timeline: list[dict[str, Any]] = []
    for arrived, first, last in updates:
        screen.bytes_at.clear()
        screen.written.clear()
        screen.changed.clear()
        screen.redundant_style_bytes = 0
        screen.feed(data[first:last])
        per_cell.update(screen.bytes_at)
        written.update(screen.written)
        changed.update(screen.changed)
        redundant += screen.redundant_style_bytes
        at: Counter[tuple[int, int]] = Counter()
        for (row, col, _), size in screen.bytes_at.items():
            at[row, col] += size
        timeline.append(
            {
                "t": arrived - start,
                "bytes": last - first,
                "cells_written": len(screen.written),
                "cells_changed": len(screen.changed),
                "at": at,
            }
        )
    regions, where = regions_of(screen)
    total = sum(per_cell.values())

    by_region: dict[str, dict[str, Any]] = {}
    for region in regions:
        by_region[region.name] = {
            "bytes": 0,
            **dict.fromkeys(KINDS, 0),
            "cells_written": 0,
            "cells_changed": 0,
            "lines": defaultdict(lambda: {"bytes": 0, "written": 0, "changed": 0}),
            "region": region,
        }
    for (row, col, kind), size in per_cell.items():
        entry = by_region[where[row, col].name]
        entry["bytes"] += size
        entry[kind] += size
        entry["lines"][row]["bytes"] += size
    for cells, key, line_key in (
        (written, "cells_written", "written"),
        (changed, "cells_changed", "changed"),
    ):
        for (row, col), count in cells.items():
            entry = by_region[where[row, col].name]
            entry[key] += count
            entry["lines"][row][line_key] += count

    widgets = []
    for name, entry in sorted(by_region.items(), key=lambda item: -item[1]["bytes"]):
        if not entry["bytes"]:
            continue
        region = entry["region"]
        widgets.append(
            {
                "widget": name,
                "bytes_per_s": entry["bytes"] / seconds,
                "share": entry["bytes"] / total if total else 0.0,
                **{f"{kind}_bytes_per_s": entry[kind] / seconds for kind in KINDS},
                "cells_written_per_s": entry["cells_written"] / seconds,
                "cells_changed_per_s": entry["cells_changed"] / seconds,
                "lines": [
                    {
                        "row": row + 1,
                        "shows": region.lines.get(row, ""),
                        "bytes_per_s": line["bytes"] / seconds,
                        "cells_written_per_s": line["written"] / seconds,
                        "cells_changed_per_s": line["changed"] / seconds,
                    }
                    for row, line in sorted(entry["lines"].items())
                    if line["bytes"]
                ],
            }
        )

    per_second = []
    for second in range(int(seconds + 0.5)):
        in_second = [u for u in timeline if second <= u["t"] < second + 1]
        touched: Counter[str] = Counter()
        for update in in_second:
            for (row, col), size in update["at"].items():
                touched[where[row, col].name] += size
        per_second.append(
            {
                "second": second,
                "bytes": sum(u["bytes"] for u in in_second),
                "updates": len(in_second),
                "widgets": dict(touched.most_common()),
            }
        )

    kinds = Counter()
    for (_, _, kind), size in per_cell.items():
        kinds[kind] += size
    sizes = [u["bytes"] for u in timeline]
    return {
        "seconds": seconds,
        "screen": f"{cols}x{rows}",
        "bytes_per_s": total / seconds,
        "updates_per_s": len(timeline) / seconds,
        "update_bytes_median": statistics.median(sizes) if sizes else 0,
        "update_bytes_max": max(sizes, default=0),
        **{f"{kind}_bytes_per_s": kinds[kind] / seconds for kind in KINDS},
        "redundant_style_bytes_per_s": redundant / seconds,
        "cells_written_per_s": sum(written.values()) / seconds,
        "cells_changed_per_s": sum(changed.values()) / seconds,
        "widgets": widgets,
        "per_second": per_second,
        "updates": [{k: v for k, v in update.items() if k != "at"} for update in timeline],
        "final_screen": screen.lines(),
    }


def report(result: dict[str, Any], top: int) -> str:
    seconds = result["seconds"]
    lines = [
        f"{result['screen']}, {seconds:.1f} s recorded: {result['bytes_per_s']:.0f} bytes/s in "
        f"{result['updates_per_s']:.2f} updates/s (median {result['update_bytes_median']:.0f} "
        f"bytes, max {result['update_bytes_max']} bytes)",
        f"  text {result['text_bytes_per_s']:.0f} B/s, style (SGR) "
        f"{result['style_bytes_per_s']:.0f} B/s, control (cursor moves etc.) "
        f"{result['control_bytes_per_s']:.0f} B/s",
        f"  cells written {result['cells_written_per_s']:.0f}/s, of which changed "
        f"{result['cells_changed_per_s']:.0f}/s; style bytes that re-set the style of the "
        f"cell to the left: {result['redundant_style_bytes_per_s']:.0f} B/s",
        "",
        f"{'widget':<28}{'B/s':>8}{'share':>7}{'text':>7}{'style':>7}{'ctrl':>7}"
        f"{'written/s':>11}{'changed/s':>11}",
    ]
    for widget in result["widgets"][:top]:
        lines.append(
            f"{widget['widget'][:27]:<28}{widget['bytes_per_s']:>8.1f}{widget['share']:>7.0%}"
            f"{widget['text_bytes_per_s']:>7.0f}{widget['style_bytes_per_s']:>7.0f}"
            f"{widget['control_bytes_per_s']:>7.0f}{widget['cells_written_per_s']:>11.1f}"
            f"{widget['cells_changed_per_s']:>11.1f}"
        )
        for line in widget["lines"]:
            lines.append(
                f"    row {line['row']:>2} {line['bytes_per_s']:>7.1f} B/s "
                f"{line['cells_written_per_s']:>6.1f} written/s "
                f"{line['cells_changed_per_s']:>6.1f} changed/s  {line['shows'][:60]}"
            )
    rest = result["widgets"][top:]
    if rest:
        lines.append(
            f"{'(' + str(len(rest)) + ' more)':<28}{sum(w['bytes_per_s'] for w in rest):>8.1f}"
        )
    lines += ["", "second  bytes  updates  widgets written (bytes)"]
    for second in result["per_second"]:
        widgets = ", ".join(f"{name} {size}" for name, size in list(second["widgets"].items())[:6])
        more = len(second["widgets"]) - 6
        lines.append(
            f"{second['second']:>6} {second['bytes']:>6} {second['updates']:>8}  {widgets}"
            + (f", +{more} more" if more > 0 else "")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="recording window")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after API p95 shows")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--low-bandwidth", action="store_true", help="run the console with it")
    parser.add_argument("--top", type=int, default=12, help="widgets listed")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--save", type=Path, help="write the raw terminal output here")
    args = parser.parse_args()
    data, chunks, start, end = record(args)
    if args.save:
        args.save.write_bytes(data)
    result = analyse(data, chunks, start, end, args.cols, args.rows)
    result["command"] = "lessay-console --demo" + (" --low-bandwidth" if args.low_bandwidth else "")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(result["command"])
        print(report(result, args.top))


if __name__ == "__main__":
    main()
