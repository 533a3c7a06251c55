"""Security settings: parsing, combinations, secrets from <VARIABLE>_FILE, masking, and the
options every Kafka and Redis client is built with."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config import secrets
from config.security import (
    aiokafka_options,
    describe_security,
    faust_credentials,
    kafka_python_options,
    redis_options,
)
from config.settings import Settings, SettingsError
from tests.fakes.certs import Certs, make_certs, openssl_available
from workers.stream.kafka_probe import ScramClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "kafka-Pa55word-known"
REDIS_PASSWORD = "redis-Pa55/word@known"  # needs URL encoding


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if not openssl_available():
        pytest.skip("no openssl command")
    return make_certs(tmp_path_factory.mktemp("certs"))


def load(env: dict[str, str]) -> Settings:
    return Settings.from_env(env, env_file=None)


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(env)
    return caught.value.problems


def sasl_ssl(certs: Certs, **extra: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "cs-worker",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CAFILE": str(certs.ca),
        "KAFKA_SSL_CERTFILE": str(certs.client_cert),
        "KAFKA_SSL_KEYFILE": str(certs.client_key),
        **extra,
    }


# ---- parsing and combinations -------------------------------------------------------------


def test_default_is_plaintext_without_options() -> None:
    settings = load({})
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert aiokafka_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert kafka_python_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None
    assert redis_options(settings) == {}


def test_protocol_and_mechanism_are_parsed_leniently(certs: Certs) -> None:
    env = sasl_ssl(certs, KAFKA_SECURITY_PROTOCOL="sasl_ssl", KAFKA_SASL_MECHANISM="scram_sha_256")
    settings = load(env)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256"


def test_bad_protocol_and_mechanism_name_the_variable() -> None:
    found = problems({"KAFKA_SECURITY_PROTOCOL": "TLS", "KAFKA_SASL_MECHANISM": "GSSAPI"})
    assert any(p.startswith("KAFKA_SECURITY_PROTOCOL='TLS': must be one of") for p in found)
    assert any(p.startswith("KAFKA_SASL_MECHANISM='GSSAPI'") for p in found)


def test_sasl_needs_mechanism_user_and_password() -> None:
    found = problems({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert found == [
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256, "
        "SCRAM-SHA-512",
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME (or KAFKA_SASL_USERNAME_FILE)",
        "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)",
    ]


def test_sasl_settings_without_a_sasl_protocol_are_refused() -> None:
    found = problems({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": PASSWORD})
    assert len(found) == 2
    assert all("KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL" in p for p in found)
    assert found[0].startswith("KAFKA_SASL_USERNAME is set")


def test_tls_files_without_a_tls_protocol_are_refused(certs: Certs) -> None:
    found = problems(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_USERNAME": "u",
            "KAFKA_SASL_PASSWORD": PASSWORD,
            "KAFKA_SSL_CAFILE": str(certs.ca),
        }
    )
    assert found == [
        "KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS: "
        "set KAFKA_SECURITY_PROTOCOL=SSL (or SASL_SSL), or unset it"
    ]


def test_tls_files_must_exist_and_be_pem(certs: Certs, tmp_path: Path) -> None:
    text = tmp_path / "not-pem.txt"
    text.write_text("hello")
    found = problems(
        {
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CAFILE": str(tmp_path / "missing.pem"),
            "KAFKA_SSL_CERTFILE": str(text),
        }
    )
    assert found[0].startswith(f"KAFKA_SSL_CAFILE='{tmp_path / 'missing.pem'}': file not found")
    assert found[1] == f"KAFKA_SSL_CERTFILE='{text}': is not a PEM file (no '-----BEGIN ...' block)"


def test_tls_files_are_loaded_at_start(certs: Certs) -> None:
    # A key file that is not the certificate's key, and a CA file that holds only a key.
    found = problems(
        {
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CAFILE": str(certs.server_key),
            "KAFKA_SSL_CERTFILE": str(certs.client_cert),
            "KAFKA_SSL_KEYFILE": str(certs.server_key),
        }
    )
    assert found[0].startswith(f"KAFKA_SSL_CAFILE='{certs.server_key}': no CA certificate in it")
    assert found[1].startswith("KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE: cannot load")


def test_key_without_certificate_is_refused(certs: Certs) -> None:
    found = problems({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": str(certs.client_key)})
    assert found == [
        "KAFKA_SSL_KEYFILE / KAFKA_SSL_KEY_PASSWORD are set without KAFKA_SSL_CERTFILE: set the "
        "client certificate too"
    ]


def test_redis_tls_files_need_rediss(certs: Certs) -> None:
    found = problems({"REDIS_SSL_CAFILE": str(certs.ca)})
    assert found == ["REDIS_SSL_CAFILE is set but REDIS_URL is not rediss:// (TLS): use rediss://"]


# ---- secrets from files -------------------------------------------------------------------


def test_secrets_come_from_files(certs: Certs, tmp_path: Path) -> None:
    password_file = tmp_path / "kafka-password"
    password_file.write_text(PASSWORD + "\n")
    url_file = tmp_path / "redis-url"
    url_file.write_text("rediss://cs:" + "pw-from-file" + "@redis.example:6380/0\n")
    env = sasl_ssl(certs, KAFKA_SASL_PASSWORD_FILE=str(password_file), REDIS_URL_FILE=str(url_file))
    del env["KAFKA_SASL_PASSWORD"]
    settings = load(env)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD
    assert settings.redis_url == "rediss://cs:pw-from-file@redis.example:6380/0"


def test_secret_file_problems_name_the_variable(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    found = problems(
        {
            "KAFKA_SASL_PASSWORD": "x" * 8,
            "KAFKA_SASL_PASSWORD_FILE": str(empty),
            "REDIS_URL_FILE": str(tmp_path / "missing"),
            "KAFKA_SASL_USERNAME_FILE": str(empty),
        }
    )
    assert found[0] == "KAFKA_SASL_USERNAME_FILE=" + repr(str(empty)) + ": the file is empty"
    assert found[1] == "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: set only one"
    assert found[2].startswith(
        "REDIS_URL_FILE=" + repr(str(tmp_path / "missing")) + ": cannot read"
    )


# ---- masking ------------------------------------------------------------------------------


def test_describe_repr_and_errors_never_show_secrets(certs: Certs) -> None:
    from urllib.parse import quote

    url = f"rediss://cs-user:{quote(REDIS_PASSWORD, safe='')}@redis.example:6380/0"
    settings = load(sasl_ssl(certs, REDIS_URL=url, REDIS_SSL_CAFILE=str(certs.ca)))
    shown = settings.describe()
    assert shown["KAFKA_SASL_PASSWORD"] == "***"
    assert shown["REDIS_URL"] == "rediss://cs-user:***@redis.example:6380/0"
    assert shown["KAFKA_SASL_USERNAME"] == "cs-worker"
    for text in (
        repr(settings),
        str(settings),
        json.dumps(shown),
        str(describe_security(settings)),
    ):
        assert PASSWORD not in text
        assert quote(REDIS_PASSWORD, safe="") not in text
    # pydantic keeps the password out of repr; the URL (a plain field) is masked in describe()
    bad = problems({"REDIS_URL": "http://u:very-secret-pw@host:6379"})
    assert bad == ["REDIS_URL='http://u:***@host:6379': must start with redis://, rediss:// or "
                   "unix:// (e.g. redis://localhost:6379/0)"]  # fmt: skip


def test_registered_secrets_are_redacted() -> None:
    secrets.register("abc")  # too short to mask without masking ordinary words
    secrets.register("p@ss word-1234")
    assert secrets.redact("abc p@ss word-1234 p%40ss%20word-1234") == "abc *** ***"


def test_every_log_line_is_masked(tmp_path: Path) -> None:
    """structlog's lines, the frameworks' stdlib logging and plain prints to stderr."""
    script = f"""
import logging, sys
from config.settings import Settings
from workers.logs import configure_logging, get_logger
Settings.from_env(env_file=None)
configure_logging("json", "DEBUG")
get_logger("t").info("connecting", password={PASSWORD!r}, url="redis://u:{PASSWORD}@h")
logging.getLogger("aiokafka").warning("auth with %s failed", {PASSWORD!r})
print("plain {PASSWORD}", file=sys.stderr)
print("stdout {PASSWORD}")
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "u",
        "KAFKA_SASL_PASSWORD": PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert PASSWORD not in output
    assert output.count("***") == 5, output


# ---- client options -----------------------------------------------------------------------


def test_sasl_ssl_options(certs: Certs) -> None:
    settings = load(sasl_ssl(certs))
    options = aiokafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "cs-worker"
    assert options["sasl_plain_password"] == PASSWORD
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(x[0] for x in ca["subject"])["commonName"] for ca in context.get_ca_certs()] == [
        "cs-signals test ca"
    ]
    assert kafka_python_options(settings).keys() == options.keys()


def test_ssl_without_sasl_and_sasl_without_ssl(certs: Certs) -> None:
    tls = aiokafka_options(load({"KAFKA_SECURITY_PROTOCOL": "SSL"}))
    assert set(tls) == {"security_protocol", "ssl_context"}
    plain = aiokafka_options(
        load(
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": PASSWORD,
            }
        )
    )
    assert plain["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in plain


def test_faust_credentials_become_the_same_aiokafka_options(certs: Certs) -> None:
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    settings = load(sasl_ssl(certs))
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "cs-worker"
    assert auth["sasl_plain_password"] == PASSWORD
    assert isinstance(auth["ssl_context"], ssl.SSLContext)
    ssl_only = faust_credentials(load({"KAFKA_SECURITY_PROTOCOL": "SSL"}))
    assert isinstance(ssl_only, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(ssl_only)["security_protocol"] == "SSL"


def test_the_worker_builds_every_kafka_and_redis_client_secured(
    certs: Certs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faust's consumer and producer (what the app would create), the recovery consumer, the
    Redis view writer."""
    from config.rules import load_rules
    from workers.stream.app import SignalWorker

    settings = load(
        sasl_ssl(
            certs,
            CS_DATA_DIR=str(tmp_path),
            REDIS_URL="rediss://cs:pw-123456@127.0.0.1:6380/0",
            REDIS_SSL_CAFILE=str(certs.ca),
        )
    )

    async def no_start(self: Any) -> None:
        pass

    monkeypatch.setattr("aiokafka.AIOKafkaConsumer.start", no_start)

    async def build() -> dict[str, Any]:
        worker = SignalWorker(settings, load_rules(None))
        consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
        producer = worker.app.producer
        recovery = await worker.parts._recovery_consumer()
        view = worker.view_writer.view
        return {
            "consumer": consumer._client,
            "producer": producer._settings_auth(),
            "recovery": recovery._client,
            "redis": view.client.connection_pool.connection_kwargs,
        }

    clients = asyncio.run(build())
    for client in (clients["consumer"], clients["recovery"]):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "cs-worker"
        assert client._sasl_plain_password == PASSWORD
        assert isinstance(client._ssl_context, ssl.SSLContext)
    assert clients["producer"]["security_protocol"] == "SASL_SSL"
    assert clients["producer"]["sasl_plain_password"] == PASSWORD
    assert clients["redis"]["ssl_ca_certs"] == str(certs.ca)
    assert clients["redis"]["username"] == "cs" and clients["redis"]["password"] == "pw-123456"


def test_the_sinks_build_every_client_secured(certs: Certs) -> None:
    from workers.delivery import clients

    settings = load(sasl_ssl(certs, KAFKA_SASL_MECHANISM="PLAIN"))

    async def build() -> list[Any]:
        built = [
            clients.kafka_consumer(settings, "g"),
            clients.kafka_producer(settings),
            clients.kafka_admin(settings),
        ]
        inner = [getattr(c, "_client", None) or c.client for c in built]
        for client in built:
            await (client.stop() if hasattr(client, "stop") else client.close())
        return inner

    for client in asyncio.run(build()):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "PLAIN"
        assert client._sasl_plain_password == PASSWORD


def test_the_command_line_builds_every_kafka_client_secured(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """produce, tail, topic set-up and progress: every kafka-python client gets the options."""
    from workers.stream import broker_quirks, kafka_io

    built: list[tuple[str, dict[str, Any]]] = []

    class Fake:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append((type(self).__name__, kwargs))

        def topics(self) -> set[str]:
            return set()

        def partitions_for_topic(self, topic: str) -> set[int]:
            return {0}

        def end_offsets(self, tps: Any) -> dict[Any, int]:
            return {}

        def committed(self, tp: Any) -> int:
            return 0

        def create_topics(self, topics: Any) -> None:
            pass

        def describe_cluster(self) -> dict[str, str]:
            return {"cluster_id": "tansu_cluster"}

        def __iter__(self) -> Any:
            return iter(())

        def close(self) -> None:
            pass

    for name in ("KafkaConsumer", "KafkaProducer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka_io, name, type(name, (Fake,), {}))
    monkeypatch.setattr(broker_quirks, "KafkaAdminClient", type("KafkaAdminClient", (Fake,), {}))
    monkeypatch.setattr("workers.stream.kafka_probe.probe", lambda *a, **k: None)

    settings = load(sasl_ssl(certs))
    security = kafka_python_options(settings)
    kafka_io.prepare_topics("k:9093", "p.", 4, security=security)
    kafka_io.ensure_changelog_topic("k:9093", "p.changelog", 4, security=security)
    kafka_io.make_producer("k:9093", security=security)
    kafka_io.group_progress("k:9093", "g", ["t"], security=security)
    list(kafka_io.follow("k:9093", "t", idle_timeout=0.1, security=security))
    assert broker_quirks.is_tansu("k:9093", security)
    kinds = {kind for kind, _ in built}
    assert kinds == {"KafkaConsumer", "KafkaProducer", "KafkaAdminClient"}
    for _kind, kwargs in built:
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_plain_password"] == PASSWORD
        assert isinstance(kwargs["ssl_context"], ssl.SSLContext)


def test_redis_options_for_rediss(certs: Certs) -> None:
    import redis

    settings = load(
        {
            "REDIS_URL": "rediss://cs:pw-123456@127.0.0.1:6380/0",
            "REDIS_SSL_CAFILE": str(certs.ca),
            "REDIS_SSL_CERTFILE": str(certs.client_cert),
            "REDIS_SSL_KEYFILE": str(certs.client_key),
        }
    )
    options = redis_options(settings)
    client = redis.Redis.from_url(settings.redis_url, **options)
    kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert kwargs["ssl_ca_certs"] == str(certs.ca)
    assert kwargs["ssl_certfile"] == str(certs.client_cert)
    assert kwargs["ssl_keyfile"] == str(certs.client_key)
    assert kwargs["username"] == "cs" and kwargs["password"] == "pw-123456"


# ---- the probe's SCRAM client -------------------------------------------------------------


def test_scram_client_matches_rfc_7677() -> None:
    """The SCRAM-SHA-256 exchange of RFC 7677, section 3."""
    client = ScramClient("user", "pencil", hashlib.sha256)
    client.nonce = "rOprNGfwEbeRWgbNEkqO"
    client.first_bare = f"n=user,r={client.nonce}"
    assert client.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = client.final(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert final == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    client.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    with pytest.raises(ValueError):
        client.verify(b"v=" + base64.b64encode(b"wrong"))
    with pytest.raises(ValueError, match="unknown-user"):
        ScramClient("x", "y", hashlib.sha512).final(b"e=unknown-user")
