"""Connection security for every client: Settings -> the options of aiokafka, kafka-python,
faust and redis-py.

Every Kafka client of the project (the worker's faust app and its recovery consumer, the
command-line helpers of workers/stream/kafka_io.py, the delivery sinks) takes its security
options from here, so KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* mean the same for
all of them. Redis clients take theirs from redis_options() (TLS files for rediss://; the ACL
user and password travel in REDIS_URL).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

__all__ = [
    "aiokafka_options",
    "describe_security",
    "faust_credentials",
    "kafka_python_options",
    "kafka_ssl_context",
    "redis_options",
]


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL: server certificates verified against
    KAFKA_SSL_CAFILE (else the system's CAs) and the host name checked; the client certificate
    when KAFKA_SSL_CERTFILE is set. None for PLAINTEXT and SASL_PLAINTEXT."""
    if not settings.kafka_uses_tls:
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.kafka_ssl_certfile is not None:
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            password.get_secret_value() if password else None,
        )
    return context


def _client_options(settings: Settings) -> dict[str, Any]:
    # aiokafka and kafka-python name these options the same.
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_uses_sasl:
        assert settings.kafka_sasl_password is not None  # validated by Settings.from_env
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaConsumer / AIOKafkaProducer / AIOKafkaAdminClient."""
    return _client_options(settings)


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaConsumer / KafkaProducer / KafkaAdminClient."""
    return _client_options(settings)


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """faust's `broker_credentials`: faust gives them to every client it creates (consumer,
    producer, the client that creates topics). None for PLAINTEXT."""
    import faust

    context = kafka_ssl_context(settings)
    if settings.kafka_uses_sasl:
        assert settings.kafka_sasl_password is not None
        # With an ssl_context faust speaks SASL_SSL, without one SASL_PLAINTEXT.
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for redis.Redis.from_url(settings.redis_url, ...): the TLS files of a
    rediss:// URL (redis-py verifies the server's certificate against them, else against the
    system's CAs). The user and password are read from the URL by redis-py itself."""
    if not settings.redis_url.startswith("rediss://"):
        return {}
    options: dict[str, Any] = {}
    if settings.redis_ssl_cafile is not None:
        options["ssl_ca_certs"] = str(settings.redis_ssl_cafile)
    if settings.redis_ssl_certfile is not None:
        options["ssl_certfile"] = str(settings.redis_ssl_certfile)
        if settings.redis_ssl_keyfile is not None:
            options["ssl_keyfile"] = str(settings.redis_ssl_keyfile)
    return options


def describe_security(settings: Settings) -> dict[str, Any]:
    """What start-up logs say about the connections: no secret, the Redis URL masked."""
    shown: dict[str, Any] = {
        "kafka_security_protocol": settings.kafka_security_protocol,
        "redis_url": settings.redis_url_masked,
    }
    if settings.kafka_uses_sasl:
        shown["kafka_sasl_mechanism"] = settings.kafka_sasl_mechanism
        shown["kafka_sasl_username"] = settings.kafka_sasl_username
    if settings.kafka_uses_tls:
        shown["kafka_ssl_cafile"] = str(settings.kafka_ssl_cafile or "system CAs")
        if settings.kafka_ssl_certfile:
            shown["kafka_ssl_certfile"] = str(settings.kafka_ssl_certfile)
    return shown
