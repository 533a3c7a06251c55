"""Shared parts of the security tests: certificates, a TLS Redis with an ACL user, running a
command and searching its output for secrets."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fakes.certs import Certs, make_certs, openssl_available
from tests.fakes.tls_redis import TlsRedis
from tests.integration.harness import ROOT, Namespace

# Known secrets: no log line of any process may contain them (nor their URL-encoded form).
KAFKA_PASSWORD = "kafka-S3cret-pw-4271"
REDIS_PASSWORD = "redis-S3cret/pw@9913"
REDIS_USER = "cs-worker"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if not openssl_available():
        pytest.skip("the openssl command is needed to make test certificates")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_redis(ns: Namespace, certs: Certs) -> Iterator[TlsRedis]:
    """The test's own redis-server, TLS only, client certificates required, `default` user off,
    one ACL user: the namespace (its workers and helpers) uses it instead of the shared Redis."""
    server = TlsRedis(certs, REDIS_USER, REDIS_PASSWORD).start()
    shared = ns.redis_url
    ns.redis_url = server.url
    ns.extra_env.update(server.env())
    ns.redis = lambda: server.client(decode_responses=True)  # type: ignore[method-assign]
    yield server
    del ns.redis  # back to the class's method, on the shared Redis, for the clean-up
    ns.redis_url = shared
    for name in server.env():
        ns.extra_env.pop(name, None)
    server.close()


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in {secret, quote(secret, safe="")}:
            assert form not in text, f"a secret is in the output: ...{_around(text, form)}..."


def _around(text: str, needle: str) -> str:
    at = text.index(needle)
    return text[max(0, at - 120) : at + 120].replace(needle, "<SECRET>")


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 90, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    done.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return done
