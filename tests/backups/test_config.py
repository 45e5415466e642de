"""[backups]: the catalog sources, the kind mappings, replication, and their problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessay_console.config import Config, ConfigError, parse_config_text
from lessay_console.config.defaults import BACKUP_NAMES, PGBACKREST_KINDS, WALG_KINDS
from lessay_console.config.render import render_config
from lessay_console.demo.backups import BACKUP_PATTERNS


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "console.toml")
    return [str(p) for p in caught.value.problems]


def test_the_defaults() -> None:
    backups = Config().backups
    assert backups.directory is None and backups.pgbackrest is None and backups.walg is None
    assert not backups.has_catalog
    assert (backups.interval, backups.timeout) == (300, 60)
    assert (backups.replication_max_lag, backups.replication_expected) == (30, False)
    # the embedded naming rule is the demo's, under the schedule's kind names
    assert set(backups.names) == set(backups.schedule)
    assert sorted(backups.names.values()) == sorted(p.pattern for p in BACKUP_PATTERNS.values())
    assert PGBACKREST_KINDS == {"full": "db_full", "diff": "db_hourly", "incr": "db_hourly"}
    assert WALG_KINDS == {"full": "db_full", "delta": "db_hourly"}


def test_every_key_read_and_written_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LESSAY_PG_DSN", "postgresql://monitor@db/lessay")
    text = f"""
[postgres]
dsn = "env:LESSAY_PG_DSN"
[backups]
directory = "archive"
interval = "10m"
timeout = "2m"
replication_max_lag = "5s"
replication_expected = true
pgbackrest = {{ stanza = "prod", config = "/etc/pgbackrest/prod.conf", \
kinds = {{ diff = "db_full" }} }}
[backups.names]
db_full = '^full-.*\\.dump$'
[backups.walg]
command = ["sudo", "-u", "postgres", "wal-g"]
env_file = "{tmp_path / "walg.env"}"
"""
    config = parse_config_text(text, "console.toml", base_dir=tmp_path)
    backups = config.backups
    assert backups.directory == tmp_path / "archive" and backups.has_catalog
    assert (backups.interval, backups.timeout, backups.replication_max_lag) == (600, 120, 5)
    assert backups.replication_expected
    assert backups.names == {"db_full": r"^full-.*\.dump$"}
    assert backups.pgbackrest is not None and backups.pgbackrest.stanza == "prod"
    assert backups.pgbackrest.command == ("pgbackrest",)
    assert backups.pgbackrest.config == Path("/etc/pgbackrest/prod.conf")
    assert backups.pgbackrest.kinds == {**PGBACKREST_KINDS, "diff": "db_full"}
    assert backups.walg is not None and backups.walg.command[-1] == "wal-g"
    assert backups.walg.env_file == tmp_path / "walg.env"
    assert backups.walg.kinds == WALG_KINDS
    again = parse_config_text(render_config(config), "again.toml", base_dir=tmp_path)
    assert again.backups == backups


def test_the_rendered_defaults_load_back() -> None:
    rendered = render_config(Config())
    assert '[backups]\ninterval = "5m"\ntimeout = "1m"\nreplication_max_lag = "30s"' in rendered
    assert parse_config_text(rendered, "x.toml").backups == Config().backups


def test_problems_name_file_line_key_and_reason() -> None:
    found = problems(
        """[backups]
interval = "soon"
replication_expected = true
pgbackrest = { stanza = "", command = [], kinds = { full = "db_weekly", zfs = "db_full" } }
[backups.names]
db_full = "(unclosed"
db_weekly = "x"
[backups.walg]
env_file = 3
"""
    )
    known_kinds = "known: db_hourly, db_full, files_incremental, config_export"
    assert found == [
        "console.toml:2: backups.interval: 'soon' is not a duration; use ms, s, m, h, d or w, "
        'as in "500ms", "5m", "1h30m"',
        "console.toml:3: backups.replication_expected: needs [postgres] dsn: "
        "replication is checked in pg_stat_replication",
        "console.toml:4: backups.pgbackrest.command: must be a non-empty argv list "
        'such as ["pgbackrest"]',
        "console.toml:4: backups.pgbackrest.kinds.full: 'db_weekly' is no backup kind; "
        + known_kinds,
        "console.toml:4: backups.pgbackrest.kinds.zfs: no such backup type; "
        "known: full, diff, incr",
        "console.toml:4: backups.pgbackrest.stanza: must not be empty",
        "console.toml:6: backups.names.db_full: is not a regular expression: "
        "missing ), unterminated subpattern at position 0",
        f"console.toml:7: backups.names.db_weekly: no such backup kind; {known_kinds}",
        "console.toml:9: backups.walg.env_file: must be a string, not an integer",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[backups]\ntimeout = '0s'", "backups.timeout: must be at least 0.1s"),
        (
            "[backups]\nwalg = { kinds = { delta = 'db_hourlyy' } }",
            "'db_hourlyy' is no backup kind",
        ),
        ("[backups]\npgbackrest = { stanzas = 'x' }", "did you mean 'stanza'?"),
        ("[backups.names]", "backups.names: is empty"),
        ("[backups]\nreplication_max_lag = 30", "must be a duration string"),
    ],
)
def test_each_kind_of_problem(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_the_embedded_names_match_the_demo_files() -> None:
    import re

    assert re.search(BACKUP_NAMES["db_hourly"], "lessay-db-hourly-20250303T1105Z.dump")
    assert re.search(BACKUP_NAMES["config_export"], "lessay-config-2025-W10.tar.gz")
    assert not re.search(BACKUP_NAMES["db_full"], "lessay-db-full-20250303.dump.partial")
