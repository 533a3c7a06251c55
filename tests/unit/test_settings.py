"""config/settings.py: defaults, .env precedence, and errors that name the variable."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from config.settings import (
    _PARSERS,
    BUNDLED_RULES_FILE,
    SETTINGS_HELP,
    Settings,
    SettingsError,
    read_env_file,
)


def from_env(env: dict[str, str] | None = None, env_file: str | Path | None = None) -> Settings:
    return Settings.from_env(env or {}, env_file=env_file)


def problem(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        from_env(env)
    assert len(info.value.problems) == 1
    return str(info.value)


def test_defaults() -> None:
    s = from_env()
    assert s.kafka_bootstrap_servers == "localhost:9092"
    assert s.redis_url == "redis://localhost:6379/0"
    assert s.app_id == "cs-signals"
    assert s.topic_prefix == ""
    assert s.rules_file is None
    assert s.rules_path == BUNDLED_RULES_FILE
    assert s.max_event_bytes == 1_048_576
    assert s.topic_partitions == 8
    assert s.topic_replication == 1
    assert s.metrics_interval_seconds == 10
    assert s.allowed_lateness_seconds == 300
    assert s.data_dir == Path("cs-signals-data")
    assert s.state_cache_size == 20_000
    assert s.evaluations_per_tick == 5_000
    assert not s.static_membership
    assert s.log_format == "auto"
    assert s.log_level == "INFO"
    assert s.worker_id == f"{socket.gethostname()}-{os.getpid()}"
    assert s.standby_replicas == 0
    assert s.batch_max == 2000
    assert s.batch_within_ms == 50
    assert s.session_timeout_seconds == 30
    assert s.rebalance_timeout_seconds == 10
    assert s.redis_prefix == "cs:cs-signals:"
    assert s.feed_maxlen == 10_000


def test_values_from_the_environment() -> None:
    s = from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092, k2:9093",
            "REDIS_URL": "rediss://cache:6380/2",
            "CS_APP_ID": "cs-staging",
            "CS_TOPIC_PREFIX": "staging.",
            "CS_TOPIC_PARTITIONS": "24",
            "CS_ALLOWED_LATENESS": "26h",
            "CS_DATA_DIR": "/var/lib/cs",
            "CS_STATE_CACHE_SIZE": "500",
            "CS_LOG_FORMAT": "JSON",
            "CS_LOG_LEVEL": "warn",
            "CS_WORKER_ID": "worker-a",
            "CS_STANDBY_REPLICAS": "1",
            "UNRELATED": "ignored",
        }
    )
    assert s.kafka_bootstrap_servers == "k1:9092,k2:9093"
    assert s.bootstrap_servers_list == ["k1:9092", "k2:9093"]
    assert s.redis_url == "rediss://cache:6380/2"
    assert s.topic_partitions == 24
    assert s.allowed_lateness_seconds == 26 * 3600
    assert s.data_dir == Path("/var/lib/cs")
    assert s.state_cache_size == 500
    assert not s.static_membership
    assert from_env({"CS_WORKER_ID": "w", "CS_STATIC_MEMBERSHIP": "true"}).static_membership
    assert "needs CS_WORKER_ID" in problem({"CS_STATIC_MEMBERSHIP": "yes"})
    assert s.log_format == "json"
    assert s.log_level == "WARNING"
    assert s.worker_id == "worker-a"
    assert s.standby_replicas == 1
    # The Redis prefix follows the app id unless set.
    assert s.redis_prefix == "cs:cs-staging:"
    assert from_env({"CS_REDIS_PREFIX": "x:"}).redis_prefix == "x:"


def test_topic_helper_applies_the_prefix() -> None:
    assert from_env().topic("usage-events") == "usage-events"
    assert from_env({"CS_TOPIC_PREFIX": "qa-"}).topic("dead-letters") == "qa-dead-letters"


def test_empty_value_means_default() -> None:
    s = from_env({"CS_TOPIC_PARTITIONS": "", "CS_RULES_FILE": "  "})
    assert s.topic_partitions == 8
    assert s.rules_file is None


def test_reads_os_environ_when_no_mapping_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_BATCH_MAX", "123")
    assert Settings.from_env(env_file=None).batch_max == 123


def test_settings_are_frozen() -> None:
    s = from_env()
    with pytest.raises(ValueError):
        s.app_id = "other"  # type: ignore[misc]


# ---- .env ---------------------------------------------------------------------------------------


def test_env_file_is_read_and_the_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# local overrides\n"
        "\n"
        "CS_APP_ID=from-dotenv\n"
        "export CS_TOPIC_PARTITIONS=12\n"
        'REDIS_URL="redis://dotenv:6379/1"   # a comment\n'
        "CS_TOPIC_PREFIX='dev.'\n"
        "CS_WORKER_ID=w#1 # the # inside a value stays\n",
        encoding="utf-8",
    )
    s = from_env({"CS_TOPIC_PARTITIONS": "3"}, env_file=env_file)
    assert s.app_id == "from-dotenv"
    assert s.topic_partitions == 3  # environment beats .env
    assert s.redis_url == "redis://dotenv:6379/1"
    assert s.topic_prefix == "dev."
    assert s.worker_id == "w#1"


def test_env_file_in_working_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("CS_FEED_MAXLEN=77\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).feed_maxlen == 77
    assert Settings.from_env({}, env_file=None).feed_maxlen == 10_000


def test_missing_env_file_is_fine(tmp_path: Path) -> None:
    assert from_env(env_file=tmp_path / "nope.env").app_id == "cs-signals"


def test_env_file_quotes_and_escapes(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        'A="say \\"hi\\"\\n"\nB=\'raw \\n # not a comment\'\nC=\nD = spaced \n',
        encoding="utf-8",
    )
    assert read_env_file(env_file) == {
        "A": 'say "hi"\n',
        "B": "raw \\n # not a comment",
        "C": "",
        "D": "spaced",
    }


def test_bad_env_file_lines_name_file_and_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('GOOD=1\nthis is not a setting\nQ="unterminated\n', encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        read_env_file(env_file)
    assert info.value.problems == [
        f"{env_file} line 2: expected KEY=VALUE, got 'this is not a setting'",
        f'{env_file} line 3: Q: value starts with " but has no closing "',
    ]


# ---- bad values ---------------------------------------------------------------------------------


def test_bad_integer_names_variable_value_and_rule() -> None:
    assert problem({"CS_TOPIC_PARTITIONS": "abc"}) == (
        "CS_TOPIC_PARTITIONS='abc': must be an integer ≥ 1"
    )
    assert problem({"CS_TOPIC_PARTITIONS": "0"}) == (
        "CS_TOPIC_PARTITIONS='0': must be an integer ≥ 1"
    )


@pytest.mark.parametrize(
    ("var", "value", "valid"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "must be host:port[,host:port...]"),
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka://k:9092", "without kafka://"),
        ("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:99999", "ports 1-65535"),
        ("REDIS_URL", "localhost:6379", "must start with redis://, rediss:// or unix://"),
        ("REDIS_URL", "redis://", "must start with redis://"),
        ("CS_APP_ID", "cs signals", "A-Z a-z 0-9 . _ -"),
        ("CS_TOPIC_PREFIX", "team/a", "may contain only A-Z a-z 0-9 . _ -"),
        ("CS_RULES_FILE", "/no/such/rules.yaml", "file not found"),
        ("CS_MAX_EVENT_BYTES", "1MB", "must be an integer ≥ 1"),
        ("CS_TOPIC_REPLICATION", "0", "must be an integer ≥ 1"),
        ("CS_METRICS_INTERVAL_SECONDS", "0", "must be a number of seconds > 0"),
        ("CS_ALLOWED_LATENESS", "soon", "must be a duration such as '90s'"),
        ("CS_STATE_CACHE_SIZE", "0", "must be an integer ≥ 1"),
        ("CS_EVALUATIONS_PER_TICK", "-1", "must be an integer ≥ 1"),
        ("CS_STATIC_MEMBERSHIP", "maybe", "must be true or false"),
        ("CS_LOG_FORMAT", "xml", "must be one of 'auto', 'json', 'console'"),
        ("CS_LOG_LEVEL", "loud", "must be one of 'DEBUG', 'INFO', 'WARNING'"),
        ("CS_WORKER_ID", "my worker", "without spaces"),
        ("CS_FEED_MAXLEN", "0", "must be an integer"),
        ("CS_STANDBY_REPLICAS", "-1", "must be an integer ≥ 0"),
        ("CS_BATCH_MAX", "1.5", "must be an integer ≥ 1"),
        ("CS_BATCH_WITHIN_MS", "0", "must be an integer ≥ 1"),
        ("CS_SESSION_TIMEOUT_SECONDS", "nan", "must be a number of seconds > 0"),
        ("CS_REBALANCE_TIMEOUT_SECONDS", "-3", "must be a number of seconds > 0"),
        ("CS_REDIS_PREFIX", "a b", "without spaces"),
        ("CS_FEED_MAXLEN", "lots", "must be an integer ≥ 1"),
    ],
)
def test_each_bad_value_names_the_variable(var: str, value: str, valid: str) -> None:
    message = problem({var: value})
    assert message.startswith(f"{var}={value!r}: ")
    assert valid in message


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        from_env({"CS_FEED_MAXLEN": "x", "REDIS_URL": "http://r", "CS_APP_ID": "ok"})
    assert [p.split("=")[0] for p in info.value.problems] == ["REDIS_URL", "CS_FEED_MAXLEN"]
    assert "REDIS_URL='http://r'" in str(info.value)


def test_rules_file_must_exist_and_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "my-rules.yaml"
    rules.write_text("{}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = from_env({"CS_RULES_FILE": "my-rules.yaml"})
    assert s.rules_file == rules.resolve()
    assert s.rules_path == rules.resolve()
    assert "is not a file" in problem({"CS_RULES_FILE": str(tmp_path)})
    assert f"relative to {tmp_path}" in problem({"CS_RULES_FILE": "missing.yaml"})


def test_ipv6_bootstrap_server() -> None:
    assert from_env({"KAFKA_BOOTSTRAP_SERVERS": "[::1]:9092"}).bootstrap_servers_list == [
        "[::1]:9092"
    ]


# ---- documentation ------------------------------------------------------------------------------


def test_lateness_accepts_durations_and_off() -> None:
    assert from_env({"CS_ALLOWED_LATENESS": "off"}).allowed_lateness_seconds is None
    assert from_env({"CS_ALLOWED_LATENESS": "90"}).allowed_lateness_seconds == 90
    assert from_env({"CS_ALLOWED_LATENESS": "1.5m"}).allowed_lateness_seconds == 90
    assert from_env({"CS_ALLOWED_LATENESS": "250ms"}).allowed_lateness_seconds == 0.25


def test_settings_of_the_first_release_are_refused_with_their_replacement() -> None:
    message = problem({"CS_TIME_DRIVEN_CLOCK": "event+wall"})
    assert "CS_TIME_DRIVEN_CLOCK is no longer read" in message
    assert "CS_ALLOWED_LATENESS" in message
    assert "CS_ALLOWED_LATENESS" in problem({"CS_WALL_TICK_SECONDS": "5"})


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    assert "is not a directory" in problem({"CS_DATA_DIR": str(path)})


def test_every_setting_is_documented_in_order() -> None:
    assert list(SETTINGS_HELP) == list(_PARSERS)
    assert set(Settings.model_fields) == {attr for attr, _ in _PARSERS.values()}
    for default, meaning in SETTINGS_HELP.values():
        assert isinstance(default, str)
        assert meaning


def test_documented_defaults_match_the_real_ones() -> None:
    shown = from_env().describe()
    for var, (default, _meaning) in SETTINGS_HELP.items():
        if var in ("CS_RULES_FILE", "CS_WORKER_ID", "CS_REDIS_PREFIX"):
            continue  # described in words: bundled file, hostname-pid, derived from app id
        assert shown[var] == default, var
