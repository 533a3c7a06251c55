"""docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is parsed with PyYAML (anchors and `<<` merges resolved as Compose does) and
checked for what the deployment relies on: KRaft Kafka reachable inside and outside the compose
network, Redis, two workers in one consumer group with distinct names and only known settings.
Where the `docker compose` plugin is installed, its own validation runs too.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
WORKERS = ("worker-1", "worker-2")
# CONTRACT.md "Running it": the names every deployment may set.
CONTRACT_SETTINGS = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "CS_APP_ID",
    "CS_TOPIC_PREFIX",
    "CS_RULES_FILE",
}
# What `pip install .` needs inside the build context.
BUILD_INPUTS = ("pyproject.toml", "README.md", "events", "workers", "config")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either Compose syntax (mapping or list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def known_settings() -> set[str]:
    """Every setting the code reads: config.settings when present, else the contract's."""
    try:
        from config.settings import SETTINGS_HELP
    except ImportError:
        return set(CONTRACT_SETTINGS)
    return set(SETTINGS_HELP) | CONTRACT_SETTINGS


def as_command(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value or "")


# --------------------------------------------------------------------------- compose


def test_services_present_and_no_zookeeper(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "redis", *WORKERS} <= set(services)
    for name, service in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(service.get("image", "")).lower()


def test_kafka_is_kraft_with_inside_and_host_listeners(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka = services["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = env_of(kafka)
    roles = {r.strip() for r in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    assert env["CLUSTER_ID"], "the apache/kafka image refuses KRaft without CLUSTER_ID"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)

    # Every advertised listener is declared, mapped to a protocol, and the controller
    # listener is not advertised (KRaft rejects that).
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(advertised) <= set(listeners) <= set(protocols)
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners and controller not in advertised
    assert env.get("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT") in advertised
    assert "kafka:9092" in advertised.values()
    assert "localhost:9094" in advertised.values()
    assert any(str(p).split(":")[-2:] == ["9094", "9094"] for p in kafka.get("ports", []))

    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "true"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"  # one node, one replica
    check = as_command(kafka["healthcheck"]["test"])
    assert "kafka-topics.sh" in check and "--bootstrap-server" in check


def test_redis_7_with_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    assert "redis-cli" in as_command(redis["healthcheck"]["test"])


def test_workers_form_one_group_with_distinct_ids(services: dict[str, dict[str, Any]]) -> None:
    envs = {name: env_of(services[name]) for name in WORKERS}
    assert len({env["CS_APP_ID"] for env in envs.values()}) == 1
    worker_ids = [env["CS_WORKER_ID"] for env in envs.values()]
    assert all(worker_ids) and len(set(worker_ids)) == len(worker_ids)
    for name, env in envs.items():
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        # Identical apart from the worker id: two halves of one deployment.
        assert {k: v for k, v in env.items() if k != "CS_WORKER_ID"} == {
            k: v for k, v in envs[WORKERS[0]].items() if k != "CS_WORKER_ID"
        }


def test_worker_settings_are_known_and_valid(services: dict[str, dict[str, Any]]) -> None:
    known = known_settings()
    for name in WORKERS:
        env = env_of(services[name])
        unknown = sorted(set(env) - known)
        assert not unknown, f"{name} sets variables no code reads: {unknown}"
        assert all(k in CONTRACT_SETTINGS or k.startswith("CS_") for k in env)
    try:
        from config.settings import Settings
    except ImportError:
        return
    # The values parse as the worker will parse them at start.
    for name in WORKERS:
        settings = Settings.from_env(environ=env_of(services[name]), env_file=None)
        assert settings.worker_id == name


def test_topic_partitions_match_auto_created_topics(services: dict[str, dict[str, Any]]) -> None:
    # Producers auto-create input topics with KAFKA_NUM_PARTITIONS; faust needs its tables
    # co-partitioned with them, so the worker's count must be the same.
    kafka_partitions = env_of(services["kafka"]).get("KAFKA_NUM_PARTITIONS", "1")
    for name in WORKERS:
        assert env_of(services[name]).get("CS_TOPIC_PARTITIONS", "8") == kafka_partitions


def test_workers_wait_for_healthy_dependencies_and_restart(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in WORKERS:
        worker = services[name]
        depends = worker["depends_on"]
        assert isinstance(depends, dict), "long syntax, so the health conditions apply"
        for dep in ("kafka", "redis"):
            assert depends[dep]["condition"] == "service_healthy", (name, dep)
        assert worker["restart"] == "unless-stopped"
        assert as_command(worker.get("command", "worker")) == "worker"
        assert "entrypoint" not in worker  # the image's cs-signals entrypoint


def test_build_context_exists(services: dict[str, dict[str, Any]]) -> None:
    built = [s for s in services.values() if "build" in s]
    assert len(built) >= len(WORKERS)
    for service in built:
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert context.is_dir()
        assert (context / dockerfile).is_file()


def test_sample_service_replays_the_bundled_sample(services: dict[str, dict[str, Any]]) -> None:
    sample = services["sample"]
    assert sample.get("profiles") == ["sample"]  # not started by a plain `up`
    script = as_command(sample.get("entrypoint")) + " " + as_command(sample.get("command"))
    assert "python -m workers.local.sample --out /tmp/s.jsonl" in script
    assert "cs-signals produce /tmp/s.jsonl" in script
    assert env_of(sample)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert sample["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert str(sample.get("restart", "no")) == "no"


def test_commands_used_by_compose_exist() -> None:
    try:
        from workers.cli import build_parser
    except ImportError:
        pytest.skip("workers.cli is not importable here")
    parser = build_parser()
    assert parser.parse_args(["worker"]).command == "worker"
    assert parser.parse_args(["produce", "/tmp/s.jsonl"]).command == "produce"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'cs-signals = "workers.cli:main"' in pyproject


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_dockerfile_runtime_image() -> None:
    stage = final_stage()
    assert stage[0][1].split()[0] == "python:3.11-slim"
    entrypoints = [json.loads(args) for word, args in stage if word == "ENTRYPOINT"]
    assert entrypoints and entrypoints[-1] == ["cs-signals"]  # exec form: signals reach it
    cmds = [json.loads(args) for word, args in stage if word == "CMD"]
    assert cmds and cmds[-1] == ["worker"]
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_installs_the_project_from_existing_files() -> None:
    instructions = dockerfile_instructions()
    assert all(args.split()[0] == "python:3.11-slim" for w, args in instructions if w == "FROM")
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "pip install ." in runs
    for word, args in instructions:
        if word != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is missing"


def test_dockerignore_keeps_build_inputs_and_drops_secrets() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in BUILD_INPUTS:
        excluded = [p for p in patterns if not p.startswith("!") and fnmatch.fnmatch(needed, p)]
        assert not excluded, f".dockerignore drops {needed} (via {excluded}); the build needs it"
    assert ".env" in patterns and ".git" in patterns


# --------------------------------------------------------------------------- docker compose


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker CLI not installed")
    try:
        version = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"docker compose unavailable: {exc}")
    if version.returncode != 0:
        pytest.skip(f"docker compose plugin missing: {version.stderr.strip()[:200]}")
    # `config` only parses and interpolates: no engine needed.
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--profile", "sample", "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- monitoring

NOTIFIERS = ("notify-webhook",)
GRAFANA_DIR = ROOT / "deploy" / "grafana"


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (relative to the compose file)."""
    found: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("."):
            found[target] = ROOT / source
    return found


def metrics_port(service: dict[str, Any]) -> str:
    return env_of(service).get("CS_METRICS_PORT", "9464")


def test_notifiers_are_known_cs_signals_commands(services: dict[str, dict[str, Any]]) -> None:
    from workers.cli import build_parser
    from workers.delivery.settings import DELIVERY_SETTINGS_HELP

    known = known_settings() | set(DELIVERY_SETTINGS_HELP)
    for name in NOTIFIERS:
        notifier = services[name]
        assert notifier.get("profiles") == ["notify"]  # needs a real endpoint: opt in
        command = [str(part) for part in notifier["command"]]
        assert build_parser().parse_args(command).command == "notify"
        assert not sorted(set(env_of(notifier)) - known)
        assert env_of(notifier)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_prometheus_scrapes_every_worker_and_notifier(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus:")
    config_path = mounts(prometheus)["/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    expected = {f"{name}:{metrics_port(services[name])}" for name in (*WORKERS, *NOTIFIERS)}
    assert targets == expected
    for name in WORKERS:
        assert metrics_port(services[name]) == "9464"
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"cs-signals-workers", "cs-signals-notifiers"}


def test_grafana_is_provisioned_with_the_datasource_and_dashboard(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    assert str(grafana["image"]).startswith("grafana/grafana:")
    mounted = mounts(grafana)
    provisioning = mounted["/etc/grafana/provisioning"]
    datasources = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    (datasource,) = datasources
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"  # the compose service and its port
    assert any(str(p).endswith("9090:9090") for p in services["prometheus"]["ports"])
    providers = yaml.safe_load(
        (provisioning / "dashboards" / "cs-signals.yml").read_text(encoding="utf-8")
    )["providers"]
    dashboards_dir = providers[0]["options"]["path"]
    assert mounted[dashboards_dir] == GRAFANA_DIR / "dashboards"
    home = env_of(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/")
    dashboard = json.loads((GRAFANA_DIR / "dashboards" / Path(home).name).read_text())
    assert dashboard["uid"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def exported_metric_names() -> set[str]:
    """Every series name the worker's and the notifiers' /metrics can expose."""
    from workers.delivery.metrics import DeliveryMetrics
    from workers.stream.ops_metrics import WorkerMetrics
    from workers.stream.prometheus import LiveGauges, PrometheusExporter

    worker = PrometheusExporter(
        WorkerMetrics(worker_id="w", app_id="a"),
        LiveGauges(
            held=lambda: 0,
            oldest_held_age=lambda: None,
            consumer_lag=lambda: {},
            cache=lambda: (0, 0, 0),
            store_bytes=lambda: 0,
            scheduled=lambda: 0,
            view_repairs=lambda: 0,
        ),
    )
    names: set[str] = set()
    for registry in (worker.registry, DeliveryMetrics().registry):
        for family in registry.collect():
            suffixes = {
                "counter": ("_total",),
                "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",),
            }[family.type]
            names.update(family.name + suffix for suffix in suffixes)
    return names


def test_dashboard_queries_only_metrics_that_exist() -> None:
    import re

    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "cs-signals.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\bcs_signals_[a-z0-9_]+", expr)}
    exported = exported_metric_names()
    assert queried and not queried - exported, f"not exported: {sorted(queried - exported)}"
    # What the dashboard is for (issue 8): each of these is charted.
    text = "\n".join(exprs)
    for needed in (
        "cs_signals_events_consumed_total",
        "cs_signals_tasks_total",
        "histogram_quantile(0.5, sum by (le) (rate(cs_signals_event_to_task_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(cs_signals_event_to_task_seconds_bucket",
        "cs_signals_held_events",
        "cs_signals_consumer_lag_records",
        "cs_signals_dead_letters_total",
        "cs_signals_notifications_sent_total",
        "cs_signals_notifications_retried_total",
        "cs_signals_notifications_dead_total",
        "cs_signals_delivery_latency_seconds_bucket",
    ):
        assert needed in text, needed
