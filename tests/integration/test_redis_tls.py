"""Redis over TLS with an ACL user, against a real redis-server started with TLS only
(`--port 0 --tls-port P`, client certificates required, the `default` user disabled): a worker
writes its live view there through REDIS_URL=rediss://user:password@... and REDIS_SSL_*."""

from __future__ import annotations

import time

import pytest

from tests.fakes.certs import Certs
from tests.fakes.tls_redis import TlsRedis
from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    nps_event,
    produce,
    tasks_of,
    ts,
    wait_for,
)
from tests.integration.security_helpers import (
    REDIS_PASSWORD,
    REDIS_USER,
    assert_no_secret,
    certs,
    run_cli,
    tls_redis,
)

pytestmark = pytest.mark.integration
__all__ = ["certs", "tls_redis"]  # fixtures


def test_worker_writes_its_view_to_tls_redis_as_an_acl_user(
    ns: Namespace, workers: list[WorkerProcess], tls_redis: TlsRedis
) -> None:
    ns.extra_env["CS_LOG_LEVEL"] = "DEBUG"  # the frameworks' logs too, for the secret search
    worker = WorkerProcess(ns, "tls-redis-1").start()  # ready = its metrics written over TLS
    workers.append(worker)
    produce(ns, "account-events", [account_event("tls-acct", ts(0, 8), csm_id="csm-t")])
    produce(ns, "nps-events", [nps_event("tls-acct", 1, ts(0, 10))])
    tasks = wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, "tls-acct", "nps_detractor"), workers=[worker]
    )
    client = tls_redis.client(decode_responses=True)
    assert client.acl_whoami() == REDIS_USER
    open_tasks = ns.redis_prefix + "tasks:open"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not client.hget(open_tasks, tasks[0]["task_id"]):
        time.sleep(0.2)
    assert client.hget(open_tasks, tasks[0]["task_id"])
    assert client.hget(ns.redis_prefix + "health:tls-acct", "csm_id") == "csm-t"
    assert client.xlen(ns.redis_prefix + "feed:csm-t") >= 1
    # Every connection the server has is the ACL user's (the default user is off).
    users = {c["user"] for c in client.client_list()}
    assert users == {REDIS_USER}
    log = worker.log_path.read_text(errors="replace")
    assert "rediss://cs-worker:***@127.0.0.1" in log  # the start-up line, masked
    assert_no_secret(log, REDIS_PASSWORD)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("password", "invalid username-password pair"),
        ("ca", "certificate verify failed"),
        ("client-cert", "ssl"),  # TLS 1.3: an alert or EOF after the handshake
    ],
)
def test_redis_refusals_stop_the_worker_with_a_masked_message(
    ns: Namespace, tls_redis: TlsRedis, certs: Certs, change: str, expected: str
) -> None:
    env = ns.env("tls-redis-bad")
    wrong_password = "wrong-redis-password-777"
    if change == "password":
        env["REDIS_URL"] = f"rediss://{REDIS_USER}:{wrong_password}@127.0.0.1:{tls_redis.port}/0"
    elif change == "ca":
        env["REDIS_SSL_CAFILE"] = str(certs.other_ca)
    else:
        del env["REDIS_SSL_CERTFILE"], env["REDIS_SSL_KEYFILE"]
    done = run_cli(["worker"], env, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "cannot reach Redis at REDIS_URL='rediss://cs-worker:***@127.0.0.1:" in output
    assert expected in output.lower() or expected in output
    assert_no_secret(output, REDIS_PASSWORD, wrong_password)
