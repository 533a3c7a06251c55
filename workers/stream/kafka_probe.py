"""Why a secured Kafka connection fails, in words an operator can act on.

The client libraries report a TLS or SASL misconfiguration badly: a TLS client against a
plaintext port waits for a handshake answer that never comes, and both aiokafka and
kafka-python fail with `KeyError('v')` when a SCRAM server refuses the user. So before a
command starts its clients, `probe()` talks to the first reachable bootstrap server itself --
the TLS handshake with the configured context, then Kafka's ApiVersions, SaslHandshake and
SaslAuthenticate requests with the configured mechanism and credentials -- and names what is
wrong: no TLS on that port, a certificate not accepted, a mechanism the broker does not offer,
credentials refused.

It reports only clear answers (a failed handshake, an error code in a response). Anything it
does not understand is inconclusive (None) and left to the clients.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
from collections.abc import Mapping
from typing import Any

_CLIENT_ID = b"cs-signals-probe"
API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
_SASL_AUTHENTICATION_FAILED = 58
_UNSUPPORTED_SASL_MECHANISM = 33


class _Inconclusive(Exception):
    """The broker's answer was not understood: say nothing, let the clients try."""


def probe(bootstrap: str, security: Mapping[str, Any] | None, timeout: float = 5.0) -> str | None:
    """A sentence naming the security problem with the first bootstrap server that accepts a
    TCP connection, or None when there is none (or the probe cannot tell)."""
    options = dict(security or {})
    protocol = str(options.get("security_protocol", "PLAINTEXT"))
    if protocol == "PLAINTEXT":
        return None
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        host = host.strip("[]")
        try:
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        except (OSError, ValueError):
            continue  # not up (yet): the clients' retries decide
        try:
            return _check(sock, host, server, protocol, options, timeout)
        except _Inconclusive:
            return None
        finally:
            sock.close()
    return None


def _check(
    sock: socket.socket,
    host: str,
    server: str,
    protocol: str,
    options: dict[str, Any],
    timeout: float,
) -> str | None:
    where = f"KAFKA_SECURITY_PROTOCOL={protocol}"
    conn: socket.socket = sock
    context = options.get("ssl_context")
    if context is not None:
        try:
            conn = context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            return (
                f"the TLS certificate of {server} was not accepted ({exc.verify_message}): "
                "check KAFKA_SSL_CAFILE (the CA that signed the broker's certificate) and that "
                "KAFKA_BOOTSTRAP_SERVERS uses a host name the certificate names"
            )
        except TimeoutError:
            return (
                f"{server} accepted the connection but did not answer the TLS handshake within "
                f"{timeout:g}s: that port does not speak TLS (a PLAINTEXT or SASL_PLAINTEXT "
                f"listener?); check {where} and the port"
            )
        except ssl.SSLError as exc:
            return (
                f"the TLS handshake with {server} failed ({exc.reason or exc}): that port does "
                f"not speak TLS, or refuses this client; check {where} and the port"
            )
        except OSError as exc:
            return (
                f"{server} closed the connection during the TLS handshake ({exc}): that port "
                f"does not speak TLS, or refuses this client; check {where} and the port"
            )
    try:
        try:
            versions = _api_versions(conn)
        except ConnectionError:
            if context is None:
                raise
            return (
                f"{server} closed the TLS connection without answering a request: does it "
                "require a client certificate (KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE) that it "
                "did not get, or did not accept?"
            )
        if options.get("sasl_mechanism"):
            return _check_sasl(conn, server, where, versions, options)
        return None
    except ssl.SSLError as exc:
        # TLS 1.3 refuses a missing client certificate only after the handshake.
        reason = str(exc.reason or exc)
        if "CERTIFICATE_REQUIRED" in reason.upper():
            return (
                f"{server} requires a client certificate: set KAFKA_SSL_CERTFILE and "
                "KAFKA_SSL_KEYFILE"
            )
        return f"the TLS connection to {server} failed ({reason})"
    except (TimeoutError, OSError, struct.error) as exc:
        raise _Inconclusive from exc


def _check_sasl(
    conn: socket.socket,
    server: str,
    where: str,
    versions: dict[int, tuple[int, int]],
    options: dict[str, Any],
) -> str | None:
    mechanism = str(options["sasl_mechanism"])
    if SASL_HANDSHAKE not in versions or SASL_AUTHENTICATE not in versions:
        return (
            f"{server} does not offer SASL (no SaslHandshake in its ApiVersions): that listener "
            f"is not a SASL one; check {where} and the port"
        )
    handshake_version = min(1, versions[SASL_HANDSHAKE][1])
    body = _string(mechanism.encode())
    try:
        reader = _Reader(_request(conn, SASL_HANDSHAKE, handshake_version, body))
    except ConnectionError:
        return (
            f"{server} closed the connection at the SASL handshake for "
            f"KAFKA_SASL_MECHANISM={mechanism}: it does not offer that mechanism (or SASL) on "
            f"this listener; check the mechanism, {where} and the port"
        )
    error = reader.int16()
    offered = [reader.string() for _ in range(reader.int32())]
    if error == _UNSUPPORTED_SASL_MECHANISM and (mechanism in offered or not offered):
        return (
            f"{server} refused the SASL handshake (UNSUPPORTED_SASL_MECHANISM"
            + (f", although it lists {mechanism}" if offered else "")
            + f"): this listener does not use SASL; check {where} and the port"
        )
    if error == _UNSUPPORTED_SASL_MECHANISM or (error == 0 and mechanism not in offered):
        return (
            f"{server} does not offer KAFKA_SASL_MECHANISM={mechanism} (it offers "
            f"{', '.join(offered)})"
        )
    if error != 0:
        raise _Inconclusive(f"SaslHandshake error {error}")
    low, high = versions[SASL_AUTHENTICATE]
    version = max(v for v in (0, 1, 2) if low <= v <= high) if low <= 2 else None
    if version is None:
        raise _Inconclusive("no SaslAuthenticate version this probe speaks")
    username = str(options.get("sasl_plain_username") or "")
    password = str(options.get("sasl_plain_password") or "")

    def refused(detail: str) -> str:
        return (
            f"{server} refused the SASL {mechanism} credentials of KAFKA_SASL_USERNAME="
            f"{username!r} ({detail}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        )

    if mechanism == "PLAIN":
        error, message, _ = _authenticate(
            conn, version, b"\0" + username.encode() + b"\0" + password.encode()
        )
        return refused(message or f"error {error}") if error else None
    digest = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}.get(mechanism)
    if digest is None:
        raise _Inconclusive(mechanism)
    scram = ScramClient(username, password, digest)
    error, message, server_first = _authenticate(conn, version, scram.first())
    if error:
        return refused(message or f"error {error}")
    try:
        final = scram.final(server_first)
    except ValueError as exc:
        return refused(str(exc))
    error, message, server_final = _authenticate(conn, version, final)
    if error:
        return refused(message or f"error {error}")
    try:
        scram.verify(server_final)
    except ValueError as exc:
        return refused(str(exc))
    return None


class ScramClient:
    """The client side of SCRAM (RFC 5802, no channel binding), as Kafka uses it."""

    def __init__(self, username: str, password: str, digest: Any) -> None:
        self.username = username.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.digest = digest
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={self.username},r={self.nonce}"
        self.server_key = b""
        self.auth_message = b""

    def first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        fields = _scram_fields(server_first)
        if "e" in fields:
            raise ValueError(f"the server said {fields['e']}")
        nonce, salt, iterations = fields.get("r", ""), fields.get("s"), fields.get("i")
        if not nonce.startswith(self.nonce) or salt is None or iterations is None:
            raise ValueError("unexpected SCRAM server message")
        salted = hashlib.pbkdf2_hmac(
            self.digest().name, self.password, base64.b64decode(salt), int(iterations)
        )
        client_key = hmac.new(salted, b"Client Key", self.digest).digest()
        stored_key = self.digest(client_key).digest()
        self.server_key = hmac.new(salted, b"Server Key", self.digest).digest()
        without_proof = f"c=biws,r={nonce}"
        self.auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, self.auth_message, self.digest).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        fields = _scram_fields(server_final)
        if "e" in fields:
            raise ValueError(f"the server said {fields['e']}")
        expected = hmac.new(self.server_key, self.auth_message, self.digest).digest()
        if base64.b64decode(fields.get("v", "")) != expected:
            raise ValueError("the server's SCRAM signature is wrong")


def _scram_fields(message: bytes) -> dict[str, str]:
    text = message.decode("utf-8", "replace")
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


# ---- just enough of the Kafka protocol --------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise struct.error("short response")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def string(self) -> str:
        n = self.int16()
        return "" if n < 0 else self.take(n).decode("utf-8", "replace")

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def compact_bytes(self) -> bytes | None:
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1)

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _string(value: bytes) -> bytes:
    return struct.pack(">h", len(value)) + value


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_correlation = [0]


def _request(
    conn: socket.socket, api_key: int, version: int, body: bytes, flexible: bool = False
) -> bytes:
    """Send one request; return the response body after the correlation id (and, for a flexible
    response header, its tagged fields)."""
    _correlation[0] += 1
    correlation = _correlation[0]
    header = struct.pack(">hhi", api_key, version, correlation) + _string(_CLIENT_ID)
    if flexible:
        header += b"\0"  # no tagged fields
    frame = header + body
    conn.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", _read_exactly(conn, 4))[0]
    reader = _Reader(_read_exactly(conn, size))
    if reader.int32() != correlation:
        raise struct.error("unexpected correlation id")
    if flexible:
        reader.skip_tags()
    return reader.data[reader.pos :]


def _read_exactly(conn: socket.socket, n: int) -> bytes:
    if not 0 <= n <= 16 << 20:
        raise struct.error("implausible frame size")
    chunks, remaining = [], n
    while remaining:
        chunk = conn.recv(remaining)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _api_versions(conn: socket.socket) -> dict[int, tuple[int, int]]:
    reader = _Reader(_request(conn, API_VERSIONS, 0, b""))
    if reader.int16() != 0:
        raise _Inconclusive("ApiVersions error")
    versions: dict[int, tuple[int, int]] = {}
    for _ in range(reader.int32()):
        key, low, high = reader.int16(), reader.int16(), reader.int16()
        versions[key] = (low, high)
    return versions


def _authenticate(conn: socket.socket, version: int, token: bytes) -> tuple[int, str, bytes]:
    """One SaslAuthenticate round: (error code, error message, server bytes)."""
    if version >= 2:
        body = _uvarint(len(token) + 1) + token + b"\0"
        reader = _Reader(_request(conn, SASL_AUTHENTICATE, version, body, flexible=True))
        error = reader.int16()
        n = reader.uvarint()
        message = "" if n == 0 else reader.take(n - 1).decode("utf-8", "replace")
        data = reader.compact_bytes() or b""
        return error, message, data
    body = struct.pack(">i", len(token)) + token
    reader = _Reader(_request(conn, SASL_AUTHENTICATE, version, body))
    error = reader.int16()
    message = reader.string()
    n = reader.int32()
    data = b"" if n < 0 else reader.take(n)
    return error, message, data


def explain_unreachable(
    bootstrap: str, timeout: float, last: Exception | None, security: Mapping[str, Any] | None
) -> str:
    """The message of a Kafka that could not be reached within `timeout`."""
    protocol = str(dict(security or {}).get("security_protocol", "PLAINTEXT"))
    hint = (
        "is the broker running and the address right? If the cluster requires TLS or SASL, "
        "set KAFKA_SECURITY_PROTOCOL (README, Security)"
        if protocol == "PLAINTEXT"
        else f"is the broker running, the address right, and KAFKA_SECURITY_PROTOCOL={protocol} "
        "what that port speaks?"
    )
    return (
        f"cannot reach Kafka at KAFKA_BOOTSTRAP_SERVERS={bootstrap!r} within {timeout:.0f}s "
        f"({last}); {hint}"
    )
