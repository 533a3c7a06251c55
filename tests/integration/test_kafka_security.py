"""Kafka security, as far as the embedded broker allows; README "Security" says what each test
verifies against what.

- Tansu 0.6 itself: with `--authentication` it runs SCRAM-SHA-512 / SCRAM-SHA-256 (but a
  memory-only broker can never get a user, so only refusals can be tested against it); its
  `--cert` does not make its listener speak TLS. Tested: the worker, `produce` and a notifier
  given SASL credentials Tansu refuses stop at start with a message naming the cause; a worker
  given SASL_SSL against a plaintext Tansu stops with a message instead of hanging.
- A TLS + SASL gateway in front of Tansu (tests/fakes/kafka_gateway.py: TLS with client
  certificates required, SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 answered like a broker,
  then relayed): a worker, `cs-signals produce`, `cs-signals tail` and `cs-signals notify
  webhook` run end to end through SASL_SSL with mutual TLS and a Redis over TLS with an ACL
  user, and no log line of any of them shows the Kafka or Redis password.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from tests.fakes.certs import Certs
from tests.fakes.kafka_gateway import KafkaGateway, server_context, start_tansu, stop_tansu
from tests.fakes.tls_redis import TlsRedis
from tests.fakes.webhook import FakeReceiver
from tests.integration.delivery_helpers import DeliveryProcess, wait_until
from tests.integration.harness import Namespace, WorkerProcess, ts
from tests.integration.security_helpers import (
    KAFKA_PASSWORD,
    REDIS_PASSWORD,
    assert_no_secret,
    certs,
    run_cli,
    tls_redis,
)
from workers.local.embedded import free_port

pytestmark = pytest.mark.integration
__all__ = ["certs", "tls_redis"]  # fixtures

KAFKA_USER = "cs-signals-app"


@pytest.fixture
def gateway(certs: Certs) -> Iterator[KafkaGateway]:
    """Tansu behind a gateway that requires TLS with a client certificate, then SASL."""
    port = free_port()
    broker, broker_port = start_tansu(advertise=port)
    context = server_context(str(certs.server_cert), str(certs.server_key), str(certs.ca))
    front = KafkaGateway(
        ("127.0.0.1", broker_port), port, server_context=context, users={KAFKA_USER: KAFKA_PASSWORD}
    ).start()
    yield front
    front.stop()
    stop_tansu(broker)


def sasl_ssl_env(certs: Certs, password_file: Path, mechanism: str = "SCRAM-SHA-512") -> dict:
    password_file.write_text(KAFKA_PASSWORD + "\n")
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": mechanism,
        "KAFKA_SASL_USERNAME": KAFKA_USER,
        "KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "KAFKA_SSL_CAFILE": str(certs.ca),
        "KAFKA_SSL_CERTFILE": str(certs.client_cert),
        "KAFKA_SSL_KEYFILE": str(certs.client_key),
    }


def test_sasl_ssl_end_to_end_and_no_secret_in_any_log(
    ns: Namespace,
    workers: list[WorkerProcess],
    tls_redis: TlsRedis,
    gateway: KafkaGateway,
    certs: Certs,
    tmp_path: Path,
) -> None:
    ns.bootstrap = gateway.bootstrap
    ns.extra_env.update(sasl_ssl_env(certs, tmp_path / "kafka-password"))
    ns.extra_env["CS_LOG_LEVEL"] = "DEBUG"  # faust's, aiokafka's and kafka-python's logs too
    env = ns.env("cli")

    # The producer first: it creates the topics (through the gateway).
    events = tmp_path / "events.jsonl"
    lines = [
        {"type": "account", "event_id": "sec-a1", "account_id": "sec-acct",
         "occurred_at": ts(0, 8), "csm_id": "csm-sec", "name": "Secure Co"},
        {"type": "nps", "event_id": "sec-n1", "account_id": "sec-acct",
         "occurred_at": ts(0, 10), "score": 1},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    produced = run_cli(["produce", str(events)], env)
    assert produced.returncode == 0, produced.stdout + produced.stderr

    worker = WorkerProcess(ns, "sec-1").start(timeout=90)
    workers.append(worker)

    tails: list[str] = []

    def task_on_topic() -> dict[str, Any] | None:
        tailed = run_cli(
            ["tail", "playbook-tasks", "--from-beginning", "--json", "--idle-timeout", "2"], env
        )
        tails.append(tailed.stdout + tailed.stderr)
        assert tailed.returncode == 0, tails[-1]
        found = [json.loads(line) for line in tailed.stdout.splitlines() if line.strip()]
        return next((t for t in found if t["playbook"] == "nps_detractor"), None)

    task = wait_until(task_on_topic, 60, what="the task, read with cs-signals tail")
    assert task["account_id"] == "sec-acct"
    view = tls_redis.client(decode_responses=True)
    assert view.hget(ns.redis_prefix + "health:sec-acct", "csm_id") == "csm-sec"

    # A notifier (aiokafka clients of workers/delivery) through the same gateway.
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text("whsec-security-test\n")
    with FakeReceiver() as hook:
        notifier = DeliveryProcess(
            ns,
            ["notify", "webhook", hook.hook_url, "--secret-file", str(secret_file)]
            + ["--start", "earliest"],
            {},
        ).start()
        try:
            wait_until(lambda: hook.accepted(task["task_id"]), 60, notifier, "the webhook POST")
            notifier_log = notifier.log()
        finally:
            notifier.stop()

    # Everyone authenticated through TLS with the SCRAM user; nobody was refused.
    assert gateway.log.refused == []
    assert gateway.log.logins and set(gateway.log.logins) == {(KAFKA_USER, "SCRAM-SHA-512")}
    assert gateway.log.tls_clients >= len(gateway.log.logins)

    worker_log = worker.log_path.read_text(errors="replace")
    start_line = next(
        json.loads(line) for line in worker_log.splitlines() if '"worker_starting"' in line
    )
    assert start_line["kafka_security_protocol"] == "SASL_SSL"
    assert start_line["kafka_sasl_username"] == KAFKA_USER
    assert start_line["redis_url"].startswith("rediss://cs-worker:***@127.0.0.1:")
    everything = "\n".join([worker_log, produced.stdout, produced.stderr, notifier_log, *tails])
    assert len(everything.splitlines()) > 100  # DEBUG: faust's and the clients' lines too
    assert_no_secret(everything, KAFKA_PASSWORD, REDIS_PASSWORD)
    # Stopping (while the gateway and Redis are still up) logs nothing secret either.
    worker.stop()
    assert worker.proc is not None and worker.proc.returncode == 0
    assert_no_secret(worker.log_path.read_text(errors="replace"), KAFKA_PASSWORD, REDIS_PASSWORD)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_other_mechanisms_with_both_client_libraries(
    certs: Certs, gateway: KafkaGateway, tmp_path: Path, mechanism: str
) -> None:
    """kafka-python (command line) and aiokafka (sinks) clients built from the settings."""
    import asyncio

    from config.security import kafka_python_options
    from workers.delivery import clients
    from workers.stream.kafka_io import follow, make_producer, wait_for_kafka

    env = {"KAFKA_BOOTSTRAP_SERVERS": gateway.bootstrap}
    env.update(sasl_ssl_env(certs, tmp_path / "pw", mechanism))
    settings = Settings.from_env(env, env_file=None)
    security = kafka_python_options(settings)
    wait_for_kafka(gateway.bootstrap, timeout=20, security=security)
    producer = make_producer(gateway.bootstrap, security=security)
    producer.send("sec-mech", b"from kafka-python").get(timeout=20)
    producer.close()

    async def with_aiokafka() -> None:
        aio = clients.kafka_producer(settings)
        await aio.start()
        try:
            await aio.send_and_wait("sec-mech", b"from aiokafka")
        finally:
            await aio.stop()

    asyncio.run(with_aiokafka())
    got = [
        value
        for _k, value, _p, _o in follow(
            gateway.bootstrap, "sec-mech", from_beginning=True, idle_timeout=3, security=security
        )
    ]
    assert sorted(got) == [b"from aiokafka", b"from kafka-python"]  # auto-created: 1+ partitions
    assert {m for _u, m in gateway.log.logins} == {mechanism}


# ---- failures: at start, with a message, never a hang -------------------------------------


def _worker_env(ns: Namespace, **settings: str) -> dict[str, str]:
    env = ns.env("sec-fail")
    env.update(settings)
    return env


def test_sasl_ssl_against_a_plaintext_broker_stops_with_a_message(ns: Namespace) -> None:
    """The shared embedded broker speaks PLAINTEXT; the worker is told SASL_SSL."""
    env = _worker_env(
        ns,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME=KAFKA_USER,
        KAFKA_SASL_PASSWORD=KAFKA_PASSWORD,
    )
    done = run_cli(["worker"], env, timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "did not answer the TLS handshake within 5s: that port does not speak TLS" in output
    assert "KAFKA_SECURITY_PROTOCOL=SASL_SSL" in output
    assert done.seconds < 30  # type: ignore[attr-defined]
    assert_no_secret(output, KAFKA_PASSWORD)


def test_tansu_refuses_unknown_scram_credentials(ns: Namespace, tmp_path: Path) -> None:
    """Tansu's own SCRAM (`--authentication`): every kind of process stops with the reason."""
    broker, port = start_tansu(extra=("--authentication",))
    try:
        ns.bootstrap = f"127.0.0.1:{port}"
        settings = {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": KAFKA_USER,
            "KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
        }
        expected = (
            f"refused the SASL SCRAM-SHA-512 credentials of KAFKA_SASL_USERNAME='{KAFKA_USER}' "
            "(the server said unknown-user)"
        )
        events = tmp_path / "one.jsonl"
        events.write_text(
            json.dumps({"type": "nps", "event_id": "x", "account_id": "a",
                        "occurred_at": ts(0), "score": 3}) + "\n"
        )  # fmt: skip
        secret = tmp_path / "hook-secret"
        secret.write_text("whsec-x\n")
        for args in (
            ["worker"],
            ["produce", str(events)],
            ["notify", "webhook", "http://127.0.0.1:9/hook", "--secret-file", str(secret)],
        ):
            started = time.monotonic()
            done = run_cli(args, _worker_env(ns, **settings), timeout=90)
            output = done.stdout + done.stderr
            assert done.returncode == 3, (args, output)
            assert expected in output, (args, output)
            assert time.monotonic() - started < 30
            assert_no_secret(output, KAFKA_PASSWORD)
    finally:
        stop_tansu(broker)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("wrong-ca", "was not accepted (self-signed certificate in certificate chain): check "
                     "KAFKA_SSL_CAFILE"),
        ("no-client-cert", "closed the TLS connection without answering a request: does it "
                           "require a client certificate"),
        ("wrong-password", f"refused the SASL SCRAM-SHA-512 credentials of KAFKA_SASL_USERNAME="
                           f"'{KAFKA_USER}'"),
        ("wrong-mechanism", "does not offer KAFKA_SASL_MECHANISM=SCRAM-SHA-256 (it offers "
                            "SCRAM-SHA-512)"),
    ],
)  # fmt: skip
def test_gateway_refusals_stop_the_worker_with_a_message(
    ns: Namespace, certs: Certs, tmp_path: Path, change: str, expected: str
) -> None:
    port = free_port()
    broker, broker_port = start_tansu(advertise=port)
    context = server_context(str(certs.server_cert), str(certs.server_key), str(certs.ca))
    mechanisms = ("SCRAM-SHA-512",)
    front = KafkaGateway(
        ("127.0.0.1", broker_port),
        port,
        server_context=context,
        users={KAFKA_USER: KAFKA_PASSWORD},
        mechanisms=mechanisms,
    ).start()
    try:
        ns.bootstrap = front.bootstrap
        env = _worker_env(ns, **sasl_ssl_env(certs, tmp_path / "pw"))
        wrong = "wrong-kafka-password-555"
        if change == "wrong-ca":
            env["KAFKA_SSL_CAFILE"] = str(certs.other_ca)
        elif change == "no-client-cert":
            del env["KAFKA_SSL_CERTFILE"], env["KAFKA_SSL_KEYFILE"]
        elif change == "wrong-password":
            (tmp_path / "pw").write_text(wrong)
        else:
            env["KAFKA_SASL_MECHANISM"] = "SCRAM-SHA-256"
        done = run_cli(["worker"], env, timeout=90)
        output = done.stdout + done.stderr
        assert done.returncode == 3, output
        assert expected in output
        assert done.seconds < 30  # type: ignore[attr-defined]
        assert_no_secret(output, KAFKA_PASSWORD, wrong)
    finally:
        front.stop()
        stop_tansu(broker)
