"""`cs-signals notify slack|webhook`: deliver playbook tasks to Slack or a signed webhook."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workers.cli.settings import settings_or_exit
from workers.delivery.settings import settings_epilog

SLACK_HELP = """\
One Slack message per task, posted to the owner's channel or user (--mapping) and edited as the
task is updated and resolved. Settings: SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE), SLACK_API_URL,
SLACK_CHANNEL_INTERVAL_SECONDS, CS_ACCOUNT_URL_TEMPLATE and the CS_DELIVERY_* retry settings
(README, "Delivery"). With SLACK_DAILY_BUDGET=N, an owner gets at most N new-task messages per
day of their time zone (critical tasks always); the rest are listed, ranked by ARR x severity,
in one digest message at SLACK_DIGEST_AT."""

WEBHOOK_HELP = """\
POST each task action to URL, signed: X-CS-Signals-Timestamp, X-CS-Signals-Signature
(v1=HMAC-SHA256 over "{timestamp}.{body}"), Idempotency-Key "{task_id}:{action}". The secret
comes from --secret-file, CS_WEBHOOK_SECRET or CS_WEBHOOK_SECRET_FILE."""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "notify",
        help="deliver playbook tasks to Slack or a signed webhook",
        description="Deliver playbook tasks where people work (own consumer group each).",
    )
    kinds = parser.add_subparsers(dest="sink", metavar="SINK")
    kinds.required = True
    slack = kinds.add_parser(
        "slack",
        help="one Slack message per task, edited as it changes",
        description=SLACK_HELP,
        epilog=settings_epilog("SLACK_", "CS_ACCOUNT_", "CS_DELIVERY_"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    slack.add_argument("--mapping", required=True, metavar="FILE", help="owner -> Slack mapping")
    slack.add_argument("--default-channel", metavar="CHANNEL", help="for owners not in the mapping")
    _start(slack, "latest")
    slack.set_defaults(func=run)
    webhook = kinds.add_parser(
        "webhook",
        help="a signed HTTP POST per task action",
        description=WEBHOOK_HELP,
        epilog=settings_epilog("CS_WEBHOOK_", "CS_DELIVERY_"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    webhook.add_argument("url", metavar="URL", help="the receiver's https:// URL")
    webhook.add_argument("--secret-file", metavar="FILE", help="file holding the signing secret")
    webhook.add_argument(
        "--name",
        default="webhook",
        help="consumer group suffix, so several webhooks each get every task (default: webhook)",
    )
    _start(webhook, "latest")
    webhook.set_defaults(func=run)


def _start(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--start",
        choices=("earliest", "latest"),
        default=default,
        help=f"where a new consumer group starts on playbook-tasks (default: {default})",
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    from config.settings import SettingsError
    from workers.delivery import settings as sink_settings
    from workers.logs import configure_logging, get_logger

    configure_logging(settings.log_format, settings.log_level)
    env = sink_settings.Env()
    try:
        common = sink_settings.common(env)
        if args.sink == "slack":
            return _slack(args, settings, common, sink_settings.slack(env), get_logger("notify"))
        webhook = sink_settings.webhook(env, args.url, args.secret_file)
        return _webhook(args, settings, common, webhook, get_logger("notify"))
    except SettingsError as exc:
        print(f"cs-signals notify {args.sink}: bad configuration: {exc}", file=sys.stderr)
        return 2


def _slack(args: argparse.Namespace, settings: Any, common: Any, slack: Any, log: Any) -> int:
    import asyncio

    from workers.delivery.runner import Runtime, run_sink
    from workers.delivery.slack_api import ChannelPacer, SlackApi
    from workers.delivery.slack_mapping import MappingError, load_mapping
    from workers.delivery.slack_sink import SlackNotifier

    try:
        mapping = load_mapping(args.mapping, args.default_channel)
    except MappingError as exc:
        print(f"cs-signals notify slack: bad configuration: --mapping {exc}", file=sys.stderr)
        return 2

    def build(rt: Runtime) -> SlackNotifier:
        api = SlackApi(
            rt.session,
            slack.api_url,
            slack.token,
            common.policy,
            rt.sleep,
            ChannelPacer(slack.channel_interval),
            rt.on_retry,
        )
        notifier = SlackNotifier(
            api,
            mapping,
            rt.redis,
            settings.redis_prefix,
            rt.dead_letters,
            rt.sleep,
            log,
            url_template=slack.account_url_template,
            concurrency=common.concurrency,
            daily_budget=slack.daily_budget,
            digest_at=slack.digest_at,
        )
        rt.background.append(notifier.release_held)
        feedback = (settings.topic("task-feedback"), f"{settings.app_id}-notify-slack-feedback")
        rt.extra_consumers.append((*feedback, notifier.on_feedback))
        return notifier

    from workers.delivery.http import redact_url

    describe = {
        "api_url": redact_url(slack.api_url),
        "owners": len(mapping.owners),
        "default_channel": mapping.default.channel if mapping.default else None,
        "daily_budget": slack.daily_budget or None,
        "digest_at": slack.digest_at.isoformat("minutes") if slack.daily_budget else None,
    }
    group = f"{settings.app_id}-notify-slack"
    return asyncio.run(
        run_sink(settings, common, group, build, log, start=args.start, describe=describe)
    )


def _webhook(args: argparse.Namespace, settings: Any, common: Any, hook: Any, log: Any) -> int:
    import asyncio

    from workers.delivery.http import redact_url
    from workers.delivery.runner import Runtime, run_sink
    from workers.delivery.webhook import WebhookSink

    def build(rt: Runtime) -> WebhookSink:
        return WebhookSink(
            rt.session,
            hook.url,
            hook.secret,
            common.policy,
            rt.sleep,
            log,
            concurrency=common.concurrency,
            on_retry=rt.on_retry,
        )

    group = f"{settings.app_id}-notify-{args.name}"
    describe = {"url": redact_url(hook.url)}
    return asyncio.run(
        run_sink(settings, common, group, build, log, start=args.start, describe=describe)
    )
