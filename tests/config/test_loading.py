"""Loading and validating configuration files: every kind of problem, the lookup order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lessay_console import locations
from lessay_console.config import Config, ConfigError, find_config, load_config, parse_config_text
from lessay_console.config.defaults import THRESHOLDS


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "console.toml")
    return [str(p) for p in caught.value.problems]


def test_empty_file_gives_the_guides_defaults() -> None:
    config = parse_config_text("", "console.toml")
    assert config.thresholds == THRESHOLDS
    cpu = config.thresholds["cpu"]
    assert (cpu.warning.value, cpu.warning.for_seconds) == (80, 300)
    assert (cpu.critical.value, cpu.critical.for_seconds) == (90, 300)
    assert config.thresholds["memory"].critical.value == 95
    assert config.thresholds["api_error_rate"].critical.for_seconds == 600
    assert config.thresholds["db_latency_p95"].warning.value == 500
    assert set(config.escalation) == {"Senior Engineer", "Payment Team", "Auth Team"}
    hourly = config.backups.schedule["db_hourly"]
    assert (hourly.interval, hourly.retention) == (3600, 7 * 86400)
    assert config.backups.schedule["db_full"].retention == 30 * 86400
    assert config.backups.schedule["files_incremental"].retention == 14 * 86400


def test_a_full_file_is_read_into_typed_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LESSAY_PG_DSN", "postgresql://lessay:pw@db/lessay")
    (tmp_path / "token").write_text("s3cret-token\n")
    config = parse_config_text(
        """
        environment = "staging"
        [api]
        health_url = "https://api.lessay.example/health"
        metrics_urls = ["http://10.0.1.11:9100/metrics", "http://10.0.1.12:9100/metrics"]
        timeout = "1500ms"
        [prometheus]
        url = "http://prometheus:9090"
        bearer_token = "file:token"
        [postgres]
        dsn = "env:LESSAY_PG_DSN"
        statement_timeout = "2s"
        [logs]
        api = { journald_unit = "lessay-api" }
        auth = { file = "logs/auth.log" }
        [thresholds.cpu]
        warning = { above = 70, for = "10m", keep_firing_for = "1m", clear_below = 65 }
        critical = "off"
        [thresholds.payment_success_rate]
        critical = { below = 90, for = "5m", clear_above = 95 }
        [escalation."Payment Team"]
        contact = "pager: +1-555-0100"
        [backups]
        directory = "/var/backups/lessay"
        [backups.schedule.db_hourly]
        retention = "3d"
        """,
        "console.toml",
        base_dir=tmp_path,
    )
    assert config.environment == "staging"
    assert config.api.timeout == 1.5
    assert len(config.api.metrics_urls) == 2
    assert config.prometheus.bearer_token.reveal() == "s3cret-token"
    assert config.postgres.dsn.reveal() == "postgresql://lessay:pw@db/lessay"
    assert str(config.postgres.dsn) == "env:LESSAY_PG_DSN"
    assert config.logs["api"].journald_unit == "lessay-api"
    assert config.logs["auth"].file == tmp_path / "logs/auth.log"
    cpu = config.thresholds["cpu"]
    assert (
        cpu.warning.value,
        cpu.warning.for_seconds,
        cpu.warning.keep_firing_for,
        cpu.warning.clear_at,
        cpu.critical,
    ) == (70, 600, 60, 65, None)
    payments = config.thresholds["payment_success_rate"].critical
    assert (payments.direction, payments.value, payments.clear_at) == ("below", 90, 95)
    assert config.thresholds["memory"] == THRESHOLDS["memory"]  # untouched metrics keep defaults
    assert config.escalation["Payment Team"].contact == "pager: +1-555-0100"
    assert config.escalation["Auth Team"].contact == ""
    assert config.backups.schedule["db_hourly"].retention == 3 * 86400
    assert config.backups.schedule["db_hourly"].interval == 3600


def test_every_problem_is_reported_at_once_with_file_line_and_key() -> None:
    found = problems(
        """environment = "staging"
enviroment = "typo"
[api]
health_url = "ftp://x"
timeout = "2"
[thresholds.cpuu]
warning = { above = 5 }
"""
    )
    assert found == [
        "console.toml:2: enviroment: unknown key; did you mean 'environment'?",
        "console.toml:4: api.health_url: 'ftp://x' is not an http:// or https:// URL",
        'console.toml:5: api.timeout: \'2\' has no unit; write "2s" or "2m"',
        "console.toml:6: thresholds.cpuu: no such metric; did you mean 'cpu'?",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[api]\ntimeot = '2s'", "api.timeot: unknown key; did you mean 'timeout'?"),
        ("[api]\ntimeout = 2", "api.timeout: must be a duration string"),
        ("[api]\nverify_tls = 'yes'", "api.verify_tls: must be true or false, not a string"),
        ("[api]\nmetrics_urls = 'http://x'", "api.metrics_urls: must be a list of strings"),
        ("[api]\nhealth_url = 'https://u:pw@h/health'", "api.health_url: has a password in clear"),
        ("[prometheus]\ntimeout = '1s'", "prometheus.url: is required"),
        ("[prometheus]\nurl = 'http://p'\nbearer_token = 'abc'", "must be a reference"),
        ("[postgres]\ndsn = 'postgresql://u:pw@db/x'", "postgres.dsn: has a password in clear"),
        (
            "[postgres]\ndsn = 'env:LESSAY_TEST_UNSET'",
            "postgres.dsn: environment variable LESSAY_TEST_UNSET is not set",
        ),
        (
            "[postgres]\ndsn = 'file:/nonexistent/secret'",
            "secret file /nonexistent/secret does not",
        ),
        ("[postgres]\nstatement_timeout = '1s'", "postgres.dsn: is required"),
        ("[logs.api]\nfile = 'a'\njournald_unit = 'b'", "logs.api: give exactly one of"),
        ("[logs]\napi = 5", "logs.api: must be a table, not an integer"),
        ("[thresholds.cpu]\nwarning = { for = '5m' }", "thresholds.cpu.warning: needs above"),
        ("[thresholds.cpu]\nwarning = { above = 5, below = 3 }", "either above or below"),
        ("[thresholds.cpu]\nwarning = { above = 101 }", "must be at most 100, not 101"),
        ("[thresholds.cpu]\nwarning = { above = true }", "must be a number, not a boolean"),
        ("[thresholds.cpu]\nwarning = { above = 80, clear_below = 85 }", "recovery hysteresis"),
        ("[thresholds.cpu]\nwarning = { above = 80, clear_above = 70 }", "use clear_below"),
        ("[thresholds.cpu]\nwarning = { above = 95 }", "critical: 90 is less severe than warning"),
        ("[thresholds.cpu]\nwarning = { below = 5 }", "must both be `above` or both `below`"),
        ("[thresholds.cpu]\nwarning = { above = 80, for = '-1m' }", "not a duration"),
        ("[host]\ndisks = ['var']", "host.disks: 'var' is not an absolute mount point"),
        ("[backups.schedule.db_weekly]\ninterval = '7d'", "no such backup kind"),
        ("[backups.schedule.db_hourly]\nretention = '30m'", "is shorter than the interval"),
        ("environment = ''", "environment: must not be empty"),
    ],
)
def test_each_kind_of_problem(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_syntax_error_names_line_and_column() -> None:
    found = problems('environment = "x"\n[api]\nhealth_url = \n')
    assert len(found) == 1
    assert found[0].startswith("console.toml:3:")
    assert "TOML syntax error" in found[0]


def test_secret_values_never_appear_in_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems("[postgres]\ndsn = 'postgresql://lessay:Hunter2Secret@db/x'")
    assert not any("Hunter2Secret" in p for p in found)


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"environment = '\xff'\n")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_config(binary)


class TestLookupOrder:
    def write(self, path: Path, environment: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'environment = "{environment}"\n')
        return path

    def environment_found(self, option: Path | None = None) -> str | None:
        found = find_config(option)
        return load_config(found.path).environment if found else None

    def test_nothing_found_means_demo(self) -> None:
        assert find_config(None) is None

    def test_each_location_in_turn(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.write(locations.SYSTEM_CONFIG, "system")
        assert self.environment_found() == "system"
        self.write(locations.user_config_file(), "user")
        assert self.environment_found() == "user"
        self.write(Path("lessay-console.toml"), "cwd")
        assert self.environment_found() == "cwd"
        monkeypatch.setenv("LESSAY_CONSOLE_CONFIG", str(self.write(tmp_path / "env.toml", "env")))
        assert self.environment_found() == "env"
        option = self.write(tmp_path / "option.toml", "option")
        assert self.environment_found(option) == "option"

    def test_a_named_file_must_exist(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.write(Path("lessay-console.toml"), "cwd")
        with pytest.raises(ConfigError, match=r"does not exist \(named by --config\)"):
            find_config(tmp_path / "missing.toml")
        monkeypatch.setenv("LESSAY_CONSOLE_CONFIG", str(tmp_path))
        with pytest.raises(ConfigError, match=r"is not a regular file \(named by \$LESSAY"):
            find_config(None)


def test_a_bare_config_is_the_guides() -> None:
    assert replace(parse_config_text("", "empty.toml"), source=None) == Config()


def test_staleness_window_and_queries() -> None:
    config = parse_config_text(
        '[api]\ninterval = "10s"\n[host]\nstaleness = "1m"\n[metrics]\nwindow = "10m"\n'
        '[prometheus]\nurl = "http://p:9090"\n'
        '[prometheus.queries]\napi_error_rate = "sum(rate(errors[5m]))"\n',
        "c.toml",
    )
    from lessay_console.config.model import staleness_of

    assert staleness_of(config.api) == 30  # 3 x the interval by default
    assert staleness_of(config.host) == 60
    assert config.metrics.window == 600
    assert config.prometheus.queries == {"api_error_rate": "sum(rate(errors[5m]))"}
    assert (
        "prometheus.queries.cpuu: no such metric; did you mean 'cpu'?"
        in problems('[prometheus]\nurl = "http://p"\n[prometheus.queries]\ncpuu = "x"\n')[0]
    )
