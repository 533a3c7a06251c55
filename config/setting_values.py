"""Parsers of setting values: each turns the text of one environment variable into its
value, or raises ValueError with what is valid (config/settings.py names the variable)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]*")
_APP_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
# host:port, with bracketed IPv6 hosts ([::1]:9092) allowed.
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Settings that may come from a file named by <VARIABLE>_FILE (container secrets).


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        valid = (
            f"must be an integer ≥ {minimum}"
            if maximum is None
            else f"must be an integer from {minimum} to {maximum}"
        )
        try:
            value = int(text)
        except ValueError:
            raise ValueError(valid) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(valid)
        return value

    return parse


def _seconds(text: str) -> float:
    valid = "must be a number of seconds > 0 (e.g. 10 or 0.5)"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(valid) from None
    if not value > 0 or value == float("inf"):
        raise ValueError(valid)
    return value


def _choice(*options: str, upper: bool = False) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.upper() if upper else text.lower()
        if upper and value == "WARN":
            value = "WARNING"
        if value not in options:
            raise ValueError("must be one of " + ", ".join(repr(o) for o in options))
        return value

    return parse


def _bootstrap(text: str) -> str:
    parts = [part.strip() for part in text.split(",")]
    for part in parts:
        match = _HOST_PORT.fullmatch(part)
        if not match or not 1 <= int(match["port"]) <= 65535:
            raise ValueError(
                "must be host:port[,host:port...] with ports 1-65535 "
                "(e.g. localhost:9092 or kafka1:9092,kafka2:9092), without kafka://"
            )
    return ",".join(parts)


def _redis_url(text: str) -> str:
    if not text.startswith(_REDIS_SCHEMES) or not text.split("://", 1)[1]:
        raise ValueError(
            "must start with redis://, rediss:// or unix:// (e.g. redis://localhost:6379/0)"
        )
    return text


def _security_protocol(text: str) -> str:
    value = text.upper().replace("-", "_")
    if value not in _SECURITY_PROTOCOLS:
        raise ValueError("must be one of " + ", ".join(_SECURITY_PROTOCOLS))
    return value


def _sasl_mechanism(text: str) -> str:
    value = text.upper().replace("_", "-")
    if value not in _SASL_MECHANISMS:
        raise ValueError(
            "must be one of " + ", ".join(_SASL_MECHANISMS) + " (GSSAPI and OAUTHBEARER are not "
            "supported)"
        )
    return value


def _secret(text: str) -> SecretStr:
    # Never repeat the value in a message: the caller shows only the variable name.
    return SecretStr(text)


def _pem_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise ValueError(f"file not found{where}")
    if not path.is_file():
        raise ValueError("is not a file")
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror or exc})") from None
    if b"-----BEGIN " not in head:
        raise ValueError("is not a PEM file (no '-----BEGIN ...' block)")
    return path.resolve()


def _security_problems(values: Mapping[str, Any]) -> list[str]:
    """Combinations of the Kafka and Redis security settings that cannot work, each naming the
    variables to change. `values` are the parsed settings that were set."""
    problems: list[str] = []
    protocol = values.get("kafka_security_protocol", "PLAINTEXT")
    sasl = protocol in ("SASL_PLAINTEXT", "SASL_SSL")
    tls = protocol in ("SSL", "SASL_SSL")
    where = f"KAFKA_SECURITY_PROTOCOL={protocol}"
    if sasl:
        if "kafka_sasl_mechanism" not in values:
            problems.append(f"{where} needs KAFKA_SASL_MECHANISM: " + ", ".join(_SASL_MECHANISMS))
        for var, attr in (
            ("KAFKA_SASL_USERNAME", "kafka_sasl_username"),
            ("KAFKA_SASL_PASSWORD", "kafka_sasl_password"),
        ):
            if attr not in values:
                problems.append(f"{where} needs {var} (or {var}_FILE)")
    else:
        for var, attr in (
            ("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism"),
            ("KAFKA_SASL_USERNAME", "kafka_sasl_username"),
            ("KAFKA_SASL_PASSWORD", "kafka_sasl_password"),
        ):
            if attr in values:
                problems.append(
                    f"{var} is set but {where} does not use SASL: set "
                    "KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset it"
                )
    if not tls:
        for var, attr in (
            ("KAFKA_SSL_CAFILE", "kafka_ssl_cafile"),
            ("KAFKA_SSL_CERTFILE", "kafka_ssl_certfile"),
            ("KAFKA_SSL_KEYFILE", "kafka_ssl_keyfile"),
            ("KAFKA_SSL_KEY_PASSWORD", "kafka_ssl_key_password"),
        ):
            if attr in values:
                problems.append(
                    f"{var} is set but {where} does not use TLS: set "
                    "KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL), or unset it"
                )
    else:
        if "kafka_ssl_certfile" not in values and (
            "kafka_ssl_keyfile" in values or "kafka_ssl_key_password" in values
        ):
            problems.append(
                "KAFKA_SSL_KEYFILE / KAFKA_SSL_KEY_PASSWORD are set without KAFKA_SSL_CERTFILE: "
                "set the client certificate too"
            )
        else:
            problems += _tls_problems(values)
    redis_url = values.get("redis_url", "redis://")
    for var, attr in (
        ("REDIS_SSL_CAFILE", "redis_ssl_cafile"),
        ("REDIS_SSL_CERTFILE", "redis_ssl_certfile"),
        ("REDIS_SSL_KEYFILE", "redis_ssl_keyfile"),
    ):
        if attr in values and not redis_url.startswith("rediss://"):
            problems.append(f"{var} is set but REDIS_URL is not rediss:// (TLS): use rediss://")
    if "redis_ssl_keyfile" in values and "redis_ssl_certfile" not in values:
        problems.append("REDIS_SSL_KEYFILE is set without REDIS_SSL_CERTFILE: set both")
    return problems


def _tls_problems(values: Mapping[str, Any]) -> list[str]:
    """Load the Kafka TLS files the way the clients will, so a wrong file or key password is
    reported now, naming the variable, instead of as a handshake failure later."""
    import ssl

    problems: list[str] = []
    context = ssl.create_default_context()
    cafile = values.get("kafka_ssl_cafile")
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=str(cafile))
        except (ssl.SSLError, OSError) as exc:
            problems.append(f"KAFKA_SSL_CAFILE={str(cafile)!r}: no CA certificate in it ({exc})")
    certfile = values.get("kafka_ssl_certfile")
    if certfile is not None:
        keyfile = values.get("kafka_ssl_keyfile")
        password = values.get("kafka_ssl_key_password")
        try:
            context.load_cert_chain(
                str(certfile),
                str(keyfile) if keyfile else None,
                password.get_secret_value() if password else None,
            )
        except (ssl.SSLError, OSError) as exc:
            names = "KAFKA_SSL_CERTFILE" + (" / KAFKA_SSL_KEYFILE" if keyfile else "")
            problems.append(
                f"{names}: cannot load the client certificate and its key ({exc.__class__.__name__}"
                f": {getattr(exc, 'reason', None) or exc}); check the files"
                + (" and KAFKA_SSL_KEY_PASSWORD" if password or keyfile else "")
            )
    return problems


def _app_id(text: str) -> str:
    if not _APP_ID.fullmatch(text):
        raise ValueError("must be 1-200 characters from A-Z a-z 0-9 . _ -")
    return text


def _topic_prefix(text: str) -> str:
    # Kafka topic names allow only these characters (and at most 249 of them).
    if not _TOPIC_CHARS.fullmatch(text) or len(text) > 200:
        raise ValueError("may contain only A-Z a-z 0-9 . _ - (at most 200 characters)")
    return text


def _rules_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise ValueError(f"file not found{where}; unset it to use the bundled rules")
    if not path.is_file():
        raise ValueError("is not a file")
    # Absolute, so logs say exactly which file was loaded.
    return path.resolve()


_DURATION = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>ms|s|m|h|d)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

# Settings of earlier releases that no longer exist, and what replaced them.
_REPLACED = {
    "CS_TIME_DRIVEN_CLOCK": "the clock now follows event time, and the wall clock minus "
    "CS_ALLOWED_LATENESS on a caught-up, quiet partition; CS_ALLOWED_LATENESS=off keeps "
    "event time only (what CS_TIME_DRIVEN_CLOCK=event did)",
    "CS_WALL_TICK_SECONDS": "the clock ticks every second; see CS_ALLOWED_LATENESS",
}


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _lateness(text: str) -> float | None:
    if text.lower() in ("off", "none", "disabled"):
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(
            "must be a duration such as '90s', '5m', '26h' or '1d' (a bare number is seconds), "
            "or 'off'"
        )
    return float(match["n"]) * _UNIT_SECONDS[match["unit"]]


def _data_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError("exists and is not a directory")
    return path


def _token(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if len(text) > 200 or any(ch.isspace() or not ch.isprintable() for ch in text):
            raise ValueError(f"{what} must be at most 200 printable characters without spaces")
        return text

    return parse
