"""Settings from the environment and an optional `.env` file.

The five contract settings (CONTRACT.md "Running it") plus the worker's own tuning knobs, all
read once at start. A bad value stops the worker there with a message that names the variable,
repeats the bad value and says what is valid, e.g.

    CS_TOPIC_PARTITIONS='abc': must be an integer ≥ 1

Every problem is reported at once so an operator fixes a deployment in one round trip.
Precedence: the real environment, then `.env` in the working directory, then the defaults.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from config import secrets
from config.setting_values import (
    _LOG_LEVELS,
    _REPLACED,
    _app_id,
    _bool,
    _bootstrap,
    _choice,
    _data_dir,
    _int,
    _lateness,
    _pem_file,
    _redis_url,
    _rules_file,
    _sasl_mechanism,
    _seconds,
    _secret,
    _security_problems,
    _security_protocol,
    _token,
    _topic_prefix,
)

__all__ = ["BUNDLED_RULES_FILE", "SETTINGS_HELP", "Settings", "SettingsError", "read_env_file"]

BUNDLED_RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"

# name -> (default as shown to people, meaning). The README and `cs-signals --help` print this.
SETTINGS_HELP: dict[str, tuple[str, str]] = {
    "KAFKA_BOOTSTRAP_SERVERS": (
        "localhost:9092",
        "the Kafka cluster: host:port[,host:port...]",
    ),
    "REDIS_URL": (
        "redis://localhost:6379/0",
        "the Redis server (redis://, rediss:// for TLS, or unix:// for a socket); an ACL user "
        "and password go in the URL (rediss://user:password@host:6380/0) or REDIS_URL_FILE",
    ),
    "KAFKA_SECURITY_PROTOCOL": (
        "PLAINTEXT",
        "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS: managed clusters)",
    ),
    "KAFKA_SASL_MECHANISM": (
        "unset",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with SASL_PLAINTEXT and SASL_SSL",
    ),
    "KAFKA_SASL_USERNAME": ("unset", "SASL user (or KAFKA_SASL_USERNAME_FILE)"),
    "KAFKA_SASL_PASSWORD": (
        "unset",
        "SASL password (or KAFKA_SASL_PASSWORD_FILE); never logged",
    ),
    "KAFKA_SSL_CAFILE": (
        "unset",
        "PEM file of the CA(s) that signed the brokers' certificates (unset: the system's CAs)",
    ),
    "KAFKA_SSL_CERTFILE": (
        "unset",
        "PEM client certificate, for brokers that authenticate clients by TLS (mutual TLS)",
    ),
    "KAFKA_SSL_KEYFILE": (
        "unset",
        "PEM private key of KAFKA_SSL_CERTFILE (unset: the key is in the certificate file)",
    ),
    "KAFKA_SSL_KEY_PASSWORD": (
        "unset",
        "password of an encrypted KAFKA_SSL_KEYFILE (or KAFKA_SSL_KEY_PASSWORD_FILE)",
    ),
    "REDIS_SSL_CAFILE": (
        "unset",
        "PEM file of the CA that signed a rediss:// server's certificate (unset: system CAs)",
    ),
    "REDIS_SSL_CERTFILE": ("unset", "PEM client certificate for a rediss:// server"),
    "REDIS_SSL_KEYFILE": ("unset", "PEM private key of REDIS_SSL_CERTFILE"),
    "CS_APP_ID": (
        "cs-signals",
        "consumer group and state namespace; workers with the same id share the partitions",
    ),
    "CS_TOPIC_PREFIX": ("", "prefix for every topic name, e.g. 'staging.'"),
    "CS_RULES_FILE": (
        "bundled config/rules.yaml",
        "rules file: health model, triggers, playbooks, per-segment overrides",
    ),
    "CS_MAX_EVENT_BYTES": (
        "1048576",
        "largest inbound event accepted, in bytes; larger ones go to dead-letters",
    ),
    "CS_TOPIC_PARTITIONS": (
        "8",
        "partitions for topics the worker creates; caps how many workers can share the load",
    ),
    "CS_TOPIC_REPLICATION": ("1", "replication factor for topics the worker creates"),
    "CS_METRICS_INTERVAL_SECONDS": (
        "10",
        "how often each worker publishes its metrics to ops-metrics",
    ),
    "CS_METRICS_PORT": (
        "9464",
        "port of the worker's Prometheus /metrics (0 turns it off); two workers on one host "
        "need two ports",
    ),
    "CS_ALLOWED_LATENESS": (
        "5m",
        "how late events may arrive: a caught-up, quiet partition's clock follows the wall "
        "clock minus this ('90s', '5m', '26h'); 'off' = event time only (exactly reproducible)",
    ),
    "CS_DATA_DIR": (
        "./cs-signals-data",
        "local state store (RocksDB, one folder per app id and partition); keep it on a volume "
        "so a restart reads only the changelog's tail",
    ),
    "CS_STATE_CACHE_SIZE": (
        "20000",
        "accounts kept decoded in memory (least recently used first out)",
    ),
    "CS_EVALUATIONS_PER_TICK": (
        "5000",
        "most scheduled (time-driven) account evaluations per second; the rest wait a tick",
    ),
    "CS_MAX_HELD_EVENTS": (
        "200000",
        "most events a partition holds for its clock; past it the oldest are released early "
        "(an input stuck far behind the others), counted in ops-metrics forced_releases",
    ),
    "CS_VIEW_SWEEP_SECONDS": (
        "600",
        "how often each worker re-writes its accounts' health and open tasks into Redis (and "
        "drops open tasks it no longer has); Redis restarting empty is repaired within seconds",
    ),
    "CS_LOG_FORMAT": (
        "auto",
        "'json' (one object a line), 'console' (readable), or 'auto' (console on a terminal)",
    ),
    "CS_LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    "CS_WORKER_ID": (
        "hostname-pid",
        "this worker's name in logs and ops-metrics; set a stable one per worker",
    ),
    "CS_STATIC_MEMBERSHIP": (
        "false",
        "true: join the consumer group as static member CS_WORKER_ID (group.instance.id), so a "
        "restart within the session timeout gets its partitions back without a rebalance",
    ),
    "CS_STANDBY_REPLICAS": (
        "0",
        "accepted for compatibility; no effect yet: fail-over restores from the local store "
        "and the changelog tail (see README, Operations)",
    ),
    "CS_BATCH_MAX": (
        "2000",
        "most events a worker folds in one batch (state is saved once per account per batch)",
    ),
    "CS_BATCH_WITHIN_MS": ("50", "longest a worker waits to fill a batch, in milliseconds"),
    "CS_SESSION_TIMEOUT_SECONDS": (
        "30",
        "Kafka consumer session timeout: how long before a dead worker's partitions move",
    ),
    "CS_REBALANCE_TIMEOUT_SECONDS": (
        "10",
        "Kafka rebalance timeout: how long a group waits for members to rejoin",
    ),
    "CS_REDIS_PREFIX": ("cs:<app id>:", "prefix of every Redis key this app writes"),
    "CS_FEED_MAXLEN": ("10000", "entries kept in each Redis alert feed (one per CSM)"),
}

SECRET_FILE_SETTINGS = (
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_KEY_PASSWORD",
    "REDIS_URL",
)


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class SettingsError(ValueError):
    """Bad settings. `problems` holds one message per bad variable; str() joins them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Settings(BaseModel):
    """Validated settings. Build with `Settings.from_env()`; fields mirror SETTINGS_HELP."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_bootstrap_servers: str = "localhost:9092"
    redis_url: str = "redis://localhost:6379/0"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    # SecretStr: repr() and str() show '**********', the value only via get_secret_value().
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    redis_ssl_cafile: Path | None = None
    redis_ssl_certfile: Path | None = None
    redis_ssl_keyfile: Path | None = None
    app_id: str = "cs-signals"
    topic_prefix: str = ""
    rules_file: Path | None = None
    max_event_bytes: int = Field(default=1_048_576, ge=1)
    topic_partitions: int = Field(default=8, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    metrics_interval_seconds: float = Field(default=10.0, gt=0)
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # None: event time only. Otherwise seconds (see SETTINGS_HELP).
    allowed_lateness_seconds: float | None = 300.0
    data_dir: Path = Path("cs-signals-data")
    state_cache_size: int = Field(default=20_000, ge=1)
    evaluations_per_tick: int = Field(default=5_000, ge=1)
    max_held_events: int = Field(default=200_000, ge=1)
    view_sweep_seconds: float = Field(default=600.0, gt=0)
    static_membership: bool = False
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    worker_id: str = Field(default_factory=lambda: _default_worker_id(), min_length=1)
    standby_replicas: int = Field(default=0, ge=0)
    batch_max: int = Field(default=2000, ge=1)
    batch_within_ms: int = Field(default=50, ge=1)
    session_timeout_seconds: float = Field(default=30.0, gt=0)
    rebalance_timeout_seconds: float = Field(default=10.0, gt=0)
    # Empty means "derive from app_id" (see below), so two apps on one Redis never collide.
    redis_prefix: str = ""
    feed_maxlen: int = Field(default=10_000, ge=1)

    @model_validator(mode="after")
    def _derive_redis_prefix(self) -> Settings:
        if not self.redis_prefix:
            # Frozen model: set the derived default once, during validation.
            object.__setattr__(self, "redis_prefix", f"cs:{self.app_id}:")
        return self

    def __repr_args__(self) -> Any:
        # repr() and str() show the Redis URL without its password (SecretStr hides the rest).
        for name, value in super().__repr_args__():
            yield name, secrets.mask_url(value) if name == "redis_url" else value

    # ---- helpers -------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        """The real topic name for a contract topic name: `CS_TOPIC_PREFIX` + name."""
        return self.topic_prefix + name

    @property
    def rules_path(self) -> Path:
        """The rules file to load: CS_RULES_FILE, else the bundled config/rules.yaml."""
        return self.rules_file if self.rules_file is not None else BUNDLED_RULES_FILE

    @property
    def redis_url_masked(self) -> str:
        """REDIS_URL with its password replaced by *** (for logs and messages)."""
        return secrets.mask_url(self.redis_url)

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def bootstrap_servers_list(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list of host:port."""
        return [part.strip() for part in self.kafka_bootstrap_servers.split(",") if part.strip()]

    # ---- construction --------------------------------------------------------------------

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | Path | None = ".env",
    ) -> Settings:
        """Read settings from `environ` (default `os.environ`) over `env_file` (default
        `.env` in the working directory; ignored when absent; None to skip it).

        Raises SettingsError naming every bad variable.
        """
        source: dict[str, str] = {}
        if env_file is not None:
            source.update(read_env_file(env_file))
        # The real environment wins over .env, as with docker-compose and most dotenv tools.
        source.update(os.environ if environ is None else environ)

        values: dict[str, Any] = {}
        # Secrets from files first: KAFKA_SASL_PASSWORD_FILE=/run/secrets/kafka -> the value.
        problems: list[str] = secrets.read_secret_files(source, SECRET_FILE_SETTINGS)
        for var, (attr, parse) in _PARSERS.items():
            raw = source.get(var)
            # An empty value means "unset": compose files often pass VAR= for "use default".
            if raw is None or raw.strip() == "":
                continue
            try:
                values[attr] = parse(raw.strip())
            except ValueError as exc:
                problems.append(f"{var}={_shown(var, raw)!r}: {exc}")
        for var, replacement in _REPLACED.items():
            if (source.get(var) or "").strip():
                problems.append(f"{var} is no longer read: {replacement}")
        if problems:
            raise SettingsError(problems)
        if values.get("static_membership") and "worker_id" not in values:
            raise SettingsError(
                ["CS_STATIC_MEMBERSHIP=true needs CS_WORKER_ID: a stable name per worker"]
            )
        problems = _security_problems(values)
        if problems:
            raise SettingsError(problems)
        settings = cls(**values)
        settings.register_secrets()
        return settings

    def register_secrets(self) -> None:
        """Hand every secret value to config.secrets, so no log line can show it."""
        secrets.register(
            self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            self.kafka_ssl_key_password.get_secret_value() if self.kafka_ssl_key_password else None,
            secrets.url_password(self.redis_url),
        )

    def describe(self) -> dict[str, str]:
        """Variable -> effective value as text, for start-up logs and `--help`."""
        shown: dict[str, str] = {}
        for var, (attr, _parse) in _PARSERS.items():
            value = getattr(self, attr)
            if attr == "rules_file" and value is None:
                value = f"{BUNDLED_RULES_FILE} (bundled)"
            elif value is None:
                value = "unset"
            elif isinstance(value, SecretStr):
                value = secrets.MASK
            elif attr == "redis_url":
                value = secrets.mask_url(value)
            elif attr == "allowed_lateness_seconds":
                value = "off" if value is None else _format_duration(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif attr == "data_dir" and not value.is_absolute():
                value = f"./{value}"
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            shown[var] = str(value)
        return shown


def _shown(var: str, raw: str) -> str:
    """A raw value as an error message may repeat it: secrets masked."""
    if var == "REDIS_URL":
        return secrets.mask_url(raw)
    if var in SECRET_FILE_SETTINGS and var != "KAFKA_SASL_USERNAME":
        return secrets.MASK
    return raw


def _format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


# ---- .env ------------------------------------------------------------------------------------


def read_env_file(path: str | Path) -> dict[str, str]:
    """Parse a simple .env file: KEY=VALUE lines, `export KEY=VALUE`, `#` comments, values in
    single quotes (taken literally) or double quotes (\\n, \\t, \\" and \\\\ escapes), and
    ` # comment` after an unquoted value. A missing file is an empty one."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([f"{file}: cannot read ({exc})"]) from exc

    result: dict[str, str] = {}
    problems: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            problems.append(f"{file} line {line_no}: expected KEY=VALUE, got {line.strip()!r}")
            continue
        try:
            result[key] = _env_value(rest.strip())
        except ValueError as exc:
            problems.append(f"{file} line {line_no}: {key}: {exc}")
    if problems:
        raise SettingsError(problems)
    return result


def _env_value(rest: str) -> str:
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = _closing_quote(rest, quote)
        if end < 0:
            raise ValueError(f"value starts with {quote} but has no closing {quote}")
        tail = rest[end + 1 :].strip()
        if tail and not tail.startswith("#"):
            raise ValueError(f"unexpected text after the closing quote: {tail!r}")
        body = rest[1:end]
        if quote == '"':
            body = re.sub(
                r'\\([nt"\\])',
                lambda m: {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}[m.group(1)],
                body,
            )
        return body
    # Unquoted: a `#` starts a comment only after whitespace, so `a#b` stays `a#b`.
    match = re.search(r"\s#", rest)
    return (rest[: match.start()] if match else rest).strip()


def _closing_quote(text: str, quote: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\" and quote == '"':
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


# ---- parsers: env text -> value, ValueError says what is valid ------------------------------


# Variable -> (Settings field, parser). Order is the order of SETTINGS_HELP.
_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "KAFKA_BOOTSTRAP_SERVERS": ("kafka_bootstrap_servers", _bootstrap),
    "REDIS_URL": ("redis_url", _redis_url),
    "KAFKA_SECURITY_PROTOCOL": ("kafka_security_protocol", _security_protocol),
    "KAFKA_SASL_MECHANISM": ("kafka_sasl_mechanism", _sasl_mechanism),
    "KAFKA_SASL_USERNAME": ("kafka_sasl_username", _token("the user name")),
    "KAFKA_SASL_PASSWORD": ("kafka_sasl_password", _secret),
    "KAFKA_SSL_CAFILE": ("kafka_ssl_cafile", _pem_file),
    "KAFKA_SSL_CERTFILE": ("kafka_ssl_certfile", _pem_file),
    "KAFKA_SSL_KEYFILE": ("kafka_ssl_keyfile", _pem_file),
    "KAFKA_SSL_KEY_PASSWORD": ("kafka_ssl_key_password", _secret),
    "REDIS_SSL_CAFILE": ("redis_ssl_cafile", _pem_file),
    "REDIS_SSL_CERTFILE": ("redis_ssl_certfile", _pem_file),
    "REDIS_SSL_KEYFILE": ("redis_ssl_keyfile", _pem_file),
    "CS_APP_ID": ("app_id", _app_id),
    "CS_TOPIC_PREFIX": ("topic_prefix", _topic_prefix),
    "CS_RULES_FILE": ("rules_file", _rules_file),
    "CS_MAX_EVENT_BYTES": ("max_event_bytes", _int(1)),
    "CS_TOPIC_PARTITIONS": ("topic_partitions", _int(1)),
    "CS_TOPIC_REPLICATION": ("topic_replication", _int(1)),
    "CS_METRICS_INTERVAL_SECONDS": ("metrics_interval_seconds", _seconds),
    "CS_METRICS_PORT": ("metrics_port", _int(0, 65535)),
    "CS_ALLOWED_LATENESS": ("allowed_lateness_seconds", _lateness),
    "CS_DATA_DIR": ("data_dir", _data_dir),
    "CS_STATE_CACHE_SIZE": ("state_cache_size", _int(1)),
    "CS_EVALUATIONS_PER_TICK": ("evaluations_per_tick", _int(1)),
    "CS_MAX_HELD_EVENTS": ("max_held_events", _int(1)),
    "CS_VIEW_SWEEP_SECONDS": ("view_sweep_seconds", _seconds),
    "CS_LOG_FORMAT": ("log_format", _choice("auto", "json", "console")),
    "CS_LOG_LEVEL": ("log_level", _choice(*_LOG_LEVELS, upper=True)),
    "CS_WORKER_ID": ("worker_id", _token("the worker id")),
    "CS_STATIC_MEMBERSHIP": ("static_membership", _bool),
    "CS_STANDBY_REPLICAS": ("standby_replicas", _int(0)),
    "CS_BATCH_MAX": ("batch_max", _int(1)),
    "CS_BATCH_WITHIN_MS": ("batch_within_ms", _int(1)),
    "CS_SESSION_TIMEOUT_SECONDS": ("session_timeout_seconds", _seconds),
    "CS_REBALANCE_TIMEOUT_SECONDS": ("rebalance_timeout_seconds", _seconds),
    "CS_REDIS_PREFIX": ("redis_prefix", _token("the prefix")),
    "CS_FEED_MAXLEN": ("feed_maxlen", _int(1)),
}
