"""The sinks' own settings (beyond config/settings.py's Kafka, Redis and prefix settings).

Read from the environment over `.env`, like the other settings. Secrets come from `NAME` or
from the file named by `NAME_FILE` (container secrets), never both; they are kept out of
repr() and logs. Every problem is collected and reported at once, each naming its variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit

from config.secrets import register
from config.settings import SettingsError, read_env_file
from workers.delivery.retry import RetryPolicy
from workers.delivery.slack_digest import parse_digest_at

# name -> (default, meaning): what README and --help list.
DELIVERY_SETTINGS_HELP: dict[str, tuple[str, str]] = {
    "CS_DELIVERY_MAX_ATTEMPTS": ("6", "attempts on 5xx / connection errors before dead-lettering"),
    "CS_DELIVERY_BACKOFF_INITIAL_SECONDS": ("1", "first backoff; doubles per failure"),
    "CS_DELIVERY_BACKOFF_MAX_SECONDS": ("60", "longest backoff between two attempts"),
    "CS_DELIVERY_MAX_RATE_LIMITED": ("50", "429 answers in a row before dead-lettering"),
    "CS_DELIVERY_RETRY_AFTER_MAX_SECONDS": ("300", "cap on a Retry-After the endpoint asks for"),
    "CS_DELIVERY_CONCURRENCY": ("8", "tasks delivered at once (one task's actions stay in order)"),
    "CS_DELIVERY_HTTP_TIMEOUT_SECONDS": ("15", "timeout of one HTTP request"),
    "SLACK_BOT_TOKEN": ("-", "Slack bot token (xoxb-…), or SLACK_BOT_TOKEN_FILE"),
    "SLACK_API_URL": ("https://slack.com/api", "Slack Web API base URL"),
    "SLACK_CHANNEL_INTERVAL_SECONDS": ("1", "least time between two messages to one channel"),
    "SLACK_DAILY_BUDGET": (
        "0",
        "new-task pings per owner per local day; the rest go into a daily digest (0: no budget)",
    ),
    "SLACK_DIGEST_AT": ("16:00", "when the daily digest is posted (owner's time zone)"),
    "CS_ACCOUNT_URL_TEMPLATE": (
        "-",
        "link to an account, e.g. https://cs.example.com/a/{account_id}",
    ),
    "CS_WEBHOOK_SECRET": ("-", "webhook signing secret, or CS_WEBHOOK_SECRET_FILE / --secret-file"),
    "HUBSPOT_ACCESS_TOKEN": ("-", "HubSpot private-app token, or HUBSPOT_ACCESS_TOKEN_FILE"),
    "HUBSPOT_API_URL": ("https://api.hubapi.com", "HubSpot API base URL"),
    "SALESFORCE_ACCESS_TOKEN": (
        "-",
        "Salesforce OAuth access token, or SALESFORCE_ACCESS_TOKEN_FILE",
    ),
    "SALESFORCE_INSTANCE_URL": ("-", "Salesforce instance, e.g. https://acme.my.salesforce.com"),
    "SALESFORCE_API_VERSION": ("v60.0", "Salesforce REST API version"),
    "CS_CRM_POLL_SECONDS": ("60", "how often tasks closed in the CRM are looked for"),
}

_URL_FIELDS = ("account_id", "task_id", "playbook")


def settings_epilog(*prefixes: str) -> str:
    """The delivery settings whose names start with one of `prefixes`, for --help."""
    rows = [
        f"  {name:<36} {meaning} (default: {default})"
        for name, (default, meaning) in DELIVERY_SETTINGS_HELP.items()
        if name.startswith(prefixes)
    ]
    return "settings (environment variables, or .env):\n" + "\n".join(rows)


class Env:
    """Typed reads of environment variables that collect problems instead of raising."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> None:
        source: dict[str, str] = {}
        if env_file is not None:
            source.update(read_env_file(env_file))
        source.update(os.environ if environ is None else environ)
        self.source = source
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        raw = (self.source.get(name) or "").strip()
        return raw or default

    def secret(self, name: str, required: bool = True, file: str | None = None) -> str | None:
        """NAME, or the contents of NAME_FILE (or of `file`, a command-line override)."""
        direct = self.text(name)
        path = file or self.text(f"{name}_FILE")
        if direct and path:
            self.problems.append(f"{name} and {name}_FILE are both set: set only one")
            return None
        if path:
            try:
                value = Path(path).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                where = f"{name}_FILE={path!r}" if not file else f"secret file {path!r}"
                self.problems.append(f"{where}: cannot read ({exc.strerror or exc})")
                return None
            if not value:
                self.problems.append(f"{name}_FILE={path!r}: the file is empty")
                return None
            register(value)  # masked in every log line (config.secrets)
            return value
        if direct:
            register(direct)
            return direct
        if required:
            self.problems.append(f"{name} (or {name}_FILE) is required")
        return None

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value >= minimum or value == float("inf"):
            self.problems.append(f"{name}={raw!r}: must be a number ≥ {minimum:g}")
            return default
        return value

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            self.problems.append(f"{name}={raw!r}: must be an integer ≥ {minimum}")
            return default
        return value

    def url(self, name: str, default: str | None = None, value: str | None = None) -> str | None:
        raw = value if value is not None else self.text(name, default)
        if raw is None:
            self.problems.append(f"{name} is required (an http:// or https:// URL)")
            return None
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(f"{name}={raw!r}: must be an http:// or https:// URL")
            return None
        return raw.rstrip("/")

    def check(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


@dataclass(frozen=True)
class CommonSettings:
    policy: RetryPolicy
    concurrency: int
    http_timeout: float


@dataclass(frozen=True)
class SlackSettings:
    token: str = field(repr=False)
    api_url: str
    channel_interval: float
    account_url_template: str | None
    daily_budget: int = 0
    digest_at: time = time(16, 0)


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class HubSpotSettings:
    token: str = field(repr=False)
    api_url: str
    poll_seconds: float


@dataclass(frozen=True)
class SalesforceSettings:
    token: str = field(repr=False)
    instance_url: str
    api_version: str
    poll_seconds: float


def common(env: Env) -> CommonSettings:
    policy = RetryPolicy(
        max_attempts=env.integer("CS_DELIVERY_MAX_ATTEMPTS", 6),
        initial_seconds=env.number("CS_DELIVERY_BACKOFF_INITIAL_SECONDS", 1.0, 0.0),
        max_seconds=env.number("CS_DELIVERY_BACKOFF_MAX_SECONDS", 60.0, 0.0),
        max_rate_limited=env.integer("CS_DELIVERY_MAX_RATE_LIMITED", 50),
        max_retry_after_seconds=env.number("CS_DELIVERY_RETRY_AFTER_MAX_SECONDS", 300.0, 0.0),
    )
    return CommonSettings(
        policy=policy,
        concurrency=env.integer("CS_DELIVERY_CONCURRENCY", 8),
        http_timeout=env.number("CS_DELIVERY_HTTP_TIMEOUT_SECONDS", 15.0, 0.1),
    )


def account_url_template(env: Env) -> str | None:
    template = env.text("CS_ACCOUNT_URL_TEMPLATE")
    if template is None:
        return None
    try:
        sample = template.format(**{name: "x" for name in _URL_FIELDS})
    except (KeyError, IndexError, ValueError):
        env.problems.append(
            f"CS_ACCOUNT_URL_TEMPLATE={template!r}: may use only "
            + ", ".join("{" + name + "}" for name in _URL_FIELDS)
        )
        return None
    if urlsplit(sample).scheme not in ("http", "https"):
        env.problems.append(f"CS_ACCOUNT_URL_TEMPLATE={template!r}: must be an http(s) URL")
        return None
    return template


def slack(env: Env) -> SlackSettings:
    token = env.secret("SLACK_BOT_TOKEN")
    api_url = env.url("SLACK_API_URL", "https://slack.com/api")
    interval = env.number("SLACK_CHANNEL_INTERVAL_SECONDS", 1.0, 0.0)
    template = account_url_template(env)
    budget = env.integer("SLACK_DAILY_BUDGET", 0, 0)
    digest_at = time(16, 0)
    raw_at = env.text("SLACK_DIGEST_AT")
    if raw_at is not None:
        try:
            digest_at = parse_digest_at(raw_at)
        except ValueError as exc:
            env.problems.append(f"SLACK_DIGEST_AT={exc}")
    env.check()
    assert token is not None and api_url is not None
    return SlackSettings(token, api_url, interval, template, budget, digest_at)


def webhook(env: Env, url: str, secret_file: str | None) -> WebhookSettings:
    checked = env.url("URL", value=url)
    secret = env.secret("CS_WEBHOOK_SECRET", file=secret_file)
    env.check()
    assert checked is not None and secret is not None
    return WebhookSettings(checked, secret.encode("utf-8"))


def hubspot(env: Env) -> HubSpotSettings:
    token = env.secret("HUBSPOT_ACCESS_TOKEN")
    api_url = env.url("HUBSPOT_API_URL", "https://api.hubapi.com")
    poll = env.number("CS_CRM_POLL_SECONDS", 60.0, 0.05)
    env.check()
    assert token is not None and api_url is not None
    return HubSpotSettings(token, api_url, poll)


def salesforce(env: Env) -> SalesforceSettings:
    token = env.secret("SALESFORCE_ACCESS_TOKEN")
    instance = env.url("SALESFORCE_INSTANCE_URL")
    version = env.text("SALESFORCE_API_VERSION", "v60.0") or "v60.0"
    if not version.startswith("v"):
        version = f"v{version}"
    try:
        float(version[1:])
    except ValueError:
        env.problems.append(f"SALESFORCE_API_VERSION={version!r}: must look like v60.0")
    poll = env.number("CS_CRM_POLL_SECONDS", 60.0, 0.05)
    env.check()
    assert token is not None and instance is not None
    return SalesforceSettings(token, instance, version, poll)
