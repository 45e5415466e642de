"""lessay-console benchmark: start-up, the steady cost of the console beside glances, demo backend.

Run: .venv/bin/python benchmarks/run.py [--seconds 30] [--json] [--no-glances]

Every program runs in a real pseudo-terminal (120x40 unless said), as over
SSH. Measured, for `lessay-console --demo`, `lessay-console --demo
--low-bandwidth` and `glances --time 1` (installed on first run into a
virtual environment of its own, outside the repository):

- start: seconds from exec to the read that completed the first frame, to the
  first frame with a value, and to the frame the steady state waits for (the
  console: API p95 in ms), median of --runs;
- steady state, over --seconds from --settle seconds after that frame: CPU % of
  one core (process and descendants), peak RSS (sampled every 0.25 s), bytes
  per second written to the terminal.

benchmarks/README.md says what each figure means.

Also: wall time of `--help` and `config check`, first frame at 80x24, the
demo backend's latencies. Figures, not assertions: the test suite checks
behaviour, this measures it. It only touches loopback (and PyPI, through pip,
once, to install glances) and stops by itself: every wait has a time-out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ptybench import (  # noqa: E402
    Predicate,
    RecordedPty,
    Watch,
    steady,
    wait_for_quiet,
)
from benchmarks.vt import Screen  # noqa: E402

CONSOLE = [sys.executable, "-m", "lessay_console"]
COLS, ROWS = 120, 40
GLANCES_REQUIREMENT = "glances>=4.5,<5"
# (min, max) version; glances installed here is checked against it
GLANCES_RANGE = ((4, 5), (5, 0))

# The aims for the console, at 120x40 on the demo backend.
AIMS = {
    "first_frame_s": "< 0.4",
    "cpu_percent": "< 2.5",
    "peak_rss_mb": "< 60",
    "terminal_kb_per_s": "< 3",
}


def env() -> dict[str, str]:
    return dict(os.environ, TERM="xterm-256color")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- what is on the screen ---------------------------------------------------
def shows_value(label: str, value: str) -> Predicate:
    """The metric `label` shows a value matching `value`: below its title in a pane
    (the grid, 120x40), or after its state on its line (one line each, 80x24)."""
    below = re.compile(rf"\s*{value}")
    beside = re.compile(rf"\s+[A-Z]+\s+{value}")

    def predicate(screen: Screen) -> bool:
        lines = screen.lines()
        for row, line in enumerate(lines):
            for found in re.finditer(re.escape(label), line):
                if beside.match(line, found.end()):
                    return True
                if row + 1 < len(lines) and below.match(lines[row + 1], found.start()):
                    return True
        return False

    return predicate


def console_frame(screen: Screen) -> bool:
    return screen.contains("DEMO", "Quit")  # header and footer drawn


CONSOLE_FIRST_VALUE = shows_value("CPU", r"\d[\d.,]*%")  # the host source's first poll
CONSOLE_P95 = shows_value("API p95", r"\d[\d.,]*\s?m?s\b")  # needs two scrapes of /metrics
GLANCES_CLOCK = re.compile(r"\d\d:\d\d:\d\d")
GLANCES_CPU = re.compile(r"CPU\s+\d+(\.\d)?%")


def glances_frame(screen: Screen) -> bool:
    return "Uptime:" in screen.line(0)  # its header


def glances_values(screen: Screen) -> bool:
    """Header, CPU % and the clock on the bottom line: a complete frame with values."""
    return (
        glances_frame(screen)
        and GLANCES_CPU.search(screen.text()) is not None
        and GLANCES_CLOCK.search(screen.line(screen.rows - 1)) is not None
    )


@dataclass(frozen=True)
class Program:
    label: str
    argv: Callable[[str], list[str]]  # given a fresh state directory
    first_frame: Predicate  # a complete frame
    first_value: Predicate  # a frame with a value in it
    ready: Predicate  # what the steady state waits for


def console_program(*flags: str) -> Program:
    return Program(
        " ".join(["lessay-console --demo", *flags]),
        lambda state: [*CONSOLE, "--demo", "--state-dir", state, *flags],
        console_frame,
        CONSOLE_FIRST_VALUE,
        CONSOLE_P95,
    )


# -- glances, in a virtual environment of its own ------------------------------
def glances_venv_default() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lessay-console" / "bench-glances-venv"


def glances_version(executable: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(executable), "--version"], check=False, capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Glances version:\s*(\d+)\.(\d+)\.(\S+)", out)
    if match is None:
        return None
    low, high = GLANCES_RANGE
    if not low <= (int(match.group(1)), int(match.group(2))) < high:
        return None
    return f"{match.group(1)}.{match.group(2)}.{match.group(3)}"


def ensure_glances(venv: Path) -> tuple[Path, str] | str:
    """(glances executable, version), installing it on first use; or why it cannot be had."""
    executable = venv / "bin" / "glances"
    version = glances_version(executable) if executable.exists() else None
    if version is not None:
        return executable, version
    log(f"installing {GLANCES_REQUIREMENT} from PyPI into its own venv {venv} (first run)")
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                text=True,
                timeout=180,
            )
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                GLANCES_REQUIREMENT,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or error.stdout or "").strip().splitlines()[-3:]
        return f"could not install {GLANCES_REQUIREMENT}: {' / '.join(tail) or error}"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"could not install {GLANCES_REQUIREMENT}: {error}"
    version = glances_version(executable)
    if version is None:
        return f"{executable} does not report a version in {GLANCES_REQUIREMENT}"
    return executable, version


def glances_program(executable: Path, version: str) -> Program:
    # Its shipped default configuration, named so that no user or system one
    # is read; no update check (it would ask PyPI) and no ports plugin (its
    # default entry pings the default gateway): only loopback is touched.
    config = executable.parent.parent / "share" / "doc" / "glances" / "glances.conf"
    argv = [str(executable), "--time", "1", "--disable-check-update", "--disable-plugin", "ports"]
    if config.exists():
        argv += ["-C", str(config)]
    return Program(
        f"glances {version} --time 1",
        lambda _state: argv,
        glances_frame,
        glances_values,
        glances_values,
    )


# -- measurements ----------------------------------------------------------------
def command_time(args: list[str], runs: int = 5) -> float:
    """Median wall time of a short command, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*CONSOLE, *args], capture_output=True, check=True, env=env(), timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spread(samples: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


def first_frame(program: Program, cols: int, rows: int, runs: int) -> dict[str, Any]:
    """Seconds from exec to the first complete frame, to the first frame with a value,
    and to the frame the steady state waits for (the console: API p95 in ms)."""
    times: dict[str, list[float]] = {"first_frame_s": [], "first_value_s": [], "ready_s": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state:
            pty = RecordedPty(program.argv(state), env(), cols, rows)
            try:
                watch = Watch(pty, cols, rows)
                times["first_frame_s"].append(watch.wait(program.first_frame, timeout=30))
                times["first_value_s"].append(watch.wait(program.first_value, timeout=30))
                times["ready_s"].append(watch.wait(program.ready, timeout=60))
            finally:
                pty.quit()
        time.sleep(0.5)  # let the previous one's exit settle
    return {key: spread(samples) for key, samples in times.items()}


def steady_state(
    program: Program, cols: int, rows: int, seconds: float, settle: float
) -> dict[str, Any]:
    """CPU, peak RSS and bytes/s to the terminal once the screen shows values."""
    with tempfile.TemporaryDirectory() as state:
        pty = RecordedPty(program.argv(state), env(), cols, rows)
        try:
            Watch(pty, cols, rows).wait(program.ready, timeout=60)
            time.sleep(settle)  # let start-up work finish before measuring
            result = steady(pty, seconds)
            if pty.process.poll() is not None:
                raise RuntimeError(f"{program.label} exited during the measurement")
            result["exit_status"] = pty.quit()
            return result
        finally:
            pty.quit()


def demo_backend(requests: int = 200) -> dict[str, float]:
    """Latency of /metrics and /health, and the backend's CPU when idle (its ticker)."""
    process = subprocess.Popen(
        [*CONSOLE, "demo-backend", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    try:
        url = process.stdout.readline().split()[3]
        with httpx.Client(base_url=url) as client:
            body = client.get("/metrics").content
            timings = {}
            for path in ("/metrics", "/health"):
                samples = []
                for _ in range(requests):
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    samples.append(time.perf_counter() - start)
                timings[path] = statistics.median(samples) * 1000
        ps = psutil.Process(process.pid)
        before = ps.cpu_times()
        time.sleep(5)
        after = ps.cpu_times()
        idle_cpu = 100 * ((after.user + after.system) - (before.user + before.system)) / 5
        return {
            "metrics_ms": timings["/metrics"],
            "health_ms": timings["/health"],
            "metrics_bytes": len(body),
            "idle_cpu_percent": idle_cpu,
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def quiet(args: argparse.Namespace) -> float:
    busy = wait_for_quiet(max_wait=args.quiet_wait)
    if busy >= 30:
        log(f"the machine is busy ({busy:.0f} % of a core used by others): figures will show it")
    return busy


def measure(program: Program, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"command": program.label}
    quiet(args)
    log(f"{program.label}: first frame x{args.runs}")
    result[f"start_{COLS}x{ROWS}"] = first_frame(program, COLS, ROWS, args.runs)
    busy = quiet(args)
    log(f"{program.label}: steady state, {args.seconds:g} s after {args.settle:g} s settling")
    result[f"steady_{COLS}x{ROWS}"] = steady_state(program, COLS, ROWS, args.seconds, args.settle)
    result[f"steady_{COLS}x{ROWS}"]["machine_busy_before_percent"] = busy
    return result


# -- output ------------------------------------------------------------------------
def table(results: dict[str, Any]) -> str:
    start, steady_key = f"start_{COLS}x{ROWS}", f"steady_{COLS}x{ROWS}"
    programs = results["programs"]
    names = list(programs)
    heads = [programs[name].get("command", name) for name in names]

    def cell(name: str, get: Callable[[dict[str, Any]], str]) -> str:
        entry = programs[name]
        if "skipped" in entry:
            return "skipped"
        return get(entry)

    def timing(key: str) -> Callable[[dict[str, Any]], str]:
        def get(entry: dict[str, Any]) -> str:
            figure = entry[start][key]
            return f"{figure['median']:.3f} ({figure['min']:.2f}-{figure['max']:.2f})"

        return get

    def figure(key: str, fmt: str = "{:.2f}", scale: float = 1.0) -> Callable[..., str]:
        return lambda entry: fmt.format(entry[steady_key][key] * scale)

    rows: list[tuple[str, Callable[[dict[str, Any]], str], str]] = [
        ("first frame, s (min-max)", timing("first_frame_s"), AIMS["first_frame_s"]),
        ("first value, s (min-max)", timing("first_value_s"), ""),
        ("ready (console: API p95 in ms), s", timing("ready_s"), ""),
        ("CPU, % of one core", figure("cpu_percent"), AIMS["cpu_percent"]),
        ("  of it the main thread", figure("main_thread_cpu_percent"), ""),
        ("peak RSS, MB", figure("peak_rss_mb", "{:.1f}"), AIMS["peak_rss_mb"]),
        ("  RSS high-water since exec, MB", figure("hwm_rss_mb", "{:.1f}"), ""),
        (
            "to the terminal, KB/s",
            figure("terminal_bytes_per_s", "{:.2f}", 1e-3),
            AIMS["terminal_kb_per_s"],
        ),
        (
            "processes / threads",
            lambda e: f"{e[steady_key]['processes']} / {e[steady_key]['threads']}",
            "",
        ),
        ("other load on the machine, % core", figure("other_cpu_percent", "{:.1f}"), ""),
    ]
    width = max(len(label) for label, _, _ in rows) + 2
    columns = [
        max(len(heads[i]), *(len(cell(name, get)) for _, get, _ in rows)) + 2
        for i, name in enumerate(names)
    ]
    lines = [
        f"{COLS}x{ROWS}, steady window {results['settings']['seconds']:g} s after values and "
        f"{results['settings']['settle']:g} s settling; median of {results['settings']['runs']} "
        f"starts; KB = 1000 bytes"
    ]
    lines.append(
        "".ljust(width) + "".join(h.ljust(c) for h, c in zip(heads, columns, strict=True)) + "aim"
    )
    for label, get, aim in rows:
        lines.append(
            label.ljust(width)
            + "".join(cell(n, get).ljust(c) for n, c in zip(names, columns, strict=True))
            + aim
        )
    for name in names:
        if "skipped" in programs[name]:
            lines.append(f"{name}: skipped: {programs[name]['skipped']}")
    small = results["start_80x24"]
    backend = results["demo_backend"]
    lines += [
        "",
        f"lessay-console --help                 {results['help_s']:.3f} s (median of 5)",
        f"lessay-console config check           {results['config_check_s']:.3f} s (median of 5)",
        f"console 80x24 first frame             {small['first_frame_s']['median']:.3f} s",
        f"console 80x24 first value             {small['first_value_s']['median']:.3f} s, "
        f"API p95 in ms {small['ready_s']['median']:.3f} s",
        f"demo backend /metrics                 {backend['metrics_ms']:.2f} ms "
        f"({backend['metrics_bytes']} bytes), /health {backend['health_ms']:.2f} ms, "
        f"idle CPU {backend['idle_cpu_percent']:.2f} % of one core",
        "",
        f"machine: {results['machine']['cpus']} CPUs, load average at start "
        f"{results['machine']['load_average_start']:.2f}, Python {results['machine']['python']}",
    ]
    return "\n".join(line.rstrip() for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="steady-state window")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after values, before it")
    parser.add_argument("--runs", type=int, default=5, help="starts timed for the first frame")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each measurement, wait at most this long for the machine to be idle",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-glances", action="store_true", help="leave glances out")
    parser.add_argument(
        "--glances-venv",
        type=Path,
        default=glances_venv_default(),
        help="where glances is installed (default: %(default)s)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "settings": {
            "cols": COLS,
            "rows": ROWS,
            **{k: vars(args)[k] for k in ("seconds", "settle", "runs")},
        },
        "machine": {
            "cpus": psutil.cpu_count(),
            "load_average_start": os.getloadavg()[0],
            "python": platform.python_version(),
        },
    }
    glances: tuple[Path, str] | str = "--no-glances"
    if not args.no_glances:
        glances = ensure_glances(args.glances_venv)
        if isinstance(glances, str):
            log(f"glances skipped: {glances}")
    quiet(args)
    log("--help and config check")
    results["help_s"] = command_time(["--help"])
    results["config_check_s"] = command_time(["config", "check"])
    log("console at 80x24: first frame")
    results["start_80x24"] = first_frame(console_program(), 80, 24, args.runs)
    programs: dict[str, Any] = {}
    programs["console"] = measure(console_program(), args)
    programs["console_low_bandwidth"] = measure(console_program("--low-bandwidth"), args)
    if isinstance(glances, str):
        programs["glances"] = {"skipped": glances}
    else:
        programs["glances"] = {"version": glances[1], **measure(glances_program(*glances), args)}
    results["programs"] = programs
    log("demo backend")
    results["demo_backend"] = demo_backend()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(table(results))


if __name__ == "__main__":
    main()
