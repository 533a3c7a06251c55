"""`cs-signals worker`: check everything a worker needs, then hand over to faust.

Its imports (Redis, Kafka, the rules, faust) are made when the command runs, so the rest of
the command line does not pay for them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from config.settings import Settings
from workers.cli.settings import SETTINGS_EPILOG, settings_or_exit

EXIT_BAD_CONFIG = 2
EXIT_UNAVAILABLE = 3


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "worker",
        help="run a stream worker against the configured Kafka and Redis",
        description=(
            "Run a stream worker: consume usage-events, ticket-events, nps-events, "
            "account-events, task-feedback, activity-events and milestone-events; publish "
            "playbook-tasks, health-scores, dead-letters and ops-metrics; keep the live view "
            "in Redis. Several workers with the same CS_APP_ID share the partitions. Stops "
            "cleanly on Ctrl-C / SIGTERM."
        ),
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_worker(settings_or_exit())


def run_worker(settings: Settings) -> int:
    import redis

    from config.rules import RulesError, load_rules
    from config.security import describe_security, kafka_python_options, redis_options
    from workers.logs import configure_logging, get_logger
    from workers.stream.kafka_io import KafkaUnavailable, ensure_changelog_topic, prepare_topics

    configure_logging(settings.log_format, settings.log_level)
    log = get_logger("cs_signals.worker").bind(worker_id=settings.worker_id)
    security = kafka_python_options(settings)
    try:
        rules = load_rules(settings.rules_file)
    except RulesError as exc:
        for error in exc.errors:
            print(f"cs-signals: bad rules: {error}", file=sys.stderr)
        log.error("bad_rules", errors=exc.errors)
        return EXIT_BAD_CONFIG

    try:
        partitions = prepare_topics(
            settings.kafka_bootstrap_servers,
            settings.topic_prefix,
            settings.topic_partitions,
            settings.topic_replication,
            security=security,
        )
    except (KafkaUnavailable, ValueError) as exc:
        print(f"cs-signals: {exc}", file=sys.stderr)
        log.error("kafka_unavailable", error=str(exc))
        return EXIT_UNAVAILABLE
    from workers.stream.changelog import changelog_topic

    try:
        ensure_changelog_topic(
            settings.kafka_bootstrap_servers,
            changelog_topic(settings.app_id),
            partitions,
            settings.topic_replication,
            security=security,
        )
    except ValueError as exc:
        print(f"cs-signals: {exc}", file=sys.stderr)
        log.error("bad_changelog_topic", error=str(exc))
        return EXIT_BAD_CONFIG
    if partitions != settings.topic_partitions:
        log.info(
            "using_existing_partition_count",
            partitions=partitions,
            configured=settings.topic_partitions,
        )
        settings = settings.model_copy(update={"topic_partitions": partitions})

    try:
        redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=5, **redis_options(settings)
        ).ping()
    except redis.RedisError as exc:
        message = f"cannot reach Redis at REDIS_URL={settings.redis_url_masked!r} ({exc})"
        print(f"cs-signals: {message}", file=sys.stderr)
        log.error("redis_unavailable", error=str(exc))
        return EXIT_UNAVAILABLE

    try:
        (settings.data_dir / settings.app_id / "faust").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        message = f"CS_DATA_DIR={str(settings.data_dir)!r}: cannot create it ({exc})"
        print(f"cs-signals: {message}", file=sys.stderr)
        log.error("bad_data_dir", error=message)
        return EXIT_BAD_CONFIG

    import faust

    from workers.stream.app import SignalWorker

    worker = SignalWorker(settings, rules)
    if settings.metrics_port:
        try:
            worker.prometheus.serve(settings.metrics_port)
        except OSError as exc:
            message = f"CS_METRICS_PORT={settings.metrics_port}: cannot listen ({exc})"
            print(f"cs-signals: {message}", file=sys.stderr)
            log.error("bad_metrics_port", error=message)
            return EXIT_BAD_CONFIG
    log.info(
        "worker_starting",
        app_id=settings.app_id,
        kafka=settings.kafka_bootstrap_servers,
        **describe_security(settings),
        topic_prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        allowed_lateness_seconds=settings.allowed_lateness_seconds,
        data_dir=str(settings.data_dir),
        static_membership=settings.static_membership,
    )
    faust_level = "info" if settings.log_level == "DEBUG" else "warn"
    runner = faust.Worker(worker.app, loglevel=faust_level, quiet=True, redirect_stdouts=False)
    # faust's start-up spinner writes terminal escape codes into the structured log stream.
    runner.spinner = None
    try:
        runner.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        log.info("worker_stopped", exit_code=code)
        return code
    return 0
