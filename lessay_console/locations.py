"""Every path the console reads or writes, and the order it looks for them in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "lessay-console"
CONFIG_ENV = "LESSAY_CONSOLE_CONFIG"
STATE_ENV = "LESSAY_CONSOLE_STATE_DIR"
SYSTEM_CONFIG = Path("/etc/lessay-console/config.toml")


@dataclass(frozen=True)
class ConfigCandidate:
    path: Path
    origin: str  # how it was named, for messages: "--config", "$LESSAY_CONSOLE_CONFIG", ...
    explicit: bool  # named by the operator: missing is an error, not a reason to look further


def config_candidates(option: Path | None) -> list[ConfigCandidate]:
    """Where the configuration is looked for, in order (DESIGN section 2)."""
    if option is not None:
        return [ConfigCandidate(option, "--config", explicit=True)]
    if env := os.environ.get(CONFIG_ENV):
        return [ConfigCandidate(Path(env), f"${CONFIG_ENV}", explicit=True)]
    return [
        ConfigCandidate(Path("lessay-console.toml"), "current directory", explicit=False),
        ConfigCandidate(user_config_file(), "user config dir", explicit=False),
        ConfigCandidate(SYSTEM_CONFIG, "system config", explicit=False),
    ]


def user_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


JOURNAL_FILE = "journal.sqlite3"


def journal_file(state: Path) -> Path:
    """The journal in a state dir (here, so that finding it does not load SQLite)."""
    return state / JOURNAL_FILE


def state_dir(option: Path | None) -> Path:
    """Where the journal and the console's own log live: --state-dir, $LESSAY_CONSOLE_STATE_DIR,
    then the platform's user state dir."""
    if option is not None:
        return option
    if env := os.environ.get(STATE_ENV):
        return Path(env)
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
