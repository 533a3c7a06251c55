"""`cs-signals sync hubspot|salesforce`: keep CRM tasks in step with playbook tasks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workers.cli.settings import settings_or_exit
from workers.delivery.settings import settings_epilog

DESCRIPTION = """\
Upsert each playbook task into the CRM by its task id (opened -> not started, resolved ->
completed; the field mapping in --mapping, over built-in defaults), and report tasks completed
in the CRM back as task-feedback (action done, source crm:<name>), polled every
CS_CRM_POLL_SECONDS. HubSpot: HUBSPOT_ACCESS_TOKEN[_FILE], HUBSPOT_API_URL. Salesforce:
SALESFORCE_ACCESS_TOKEN[_FILE], SALESFORCE_INSTANCE_URL, SALESFORCE_API_VERSION."""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sync",
        help="sync playbook tasks into HubSpot or Salesforce",
        description=DESCRIPTION,
        epilog=settings_epilog("HUBSPOT_", "SALESFORCE_", "CS_CRM_", "CS_DELIVERY_"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("crm", choices=("hubspot", "salesforce"), help="which CRM")
    parser.add_argument("--mapping", required=True, metavar="FILE", help="CRM field mapping")
    parser.add_argument(
        "--start",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a new consumer group starts on playbook-tasks (default: earliest)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    import asyncio

    from config.settings import SettingsError
    from workers.delivery import settings as sink_settings
    from workers.delivery.crm_common import ClosedPoller, CrmState
    from workers.delivery.crm_mapping import (
        HUBSPOT_DEFAULTS,
        SALESFORCE_DEFAULTS,
        CrmMappingError,
        load_crm_mapping,
    )
    from workers.delivery.runner import Runtime, run_sink
    from workers.logs import configure_logging, get_logger

    configure_logging(settings.log_format, settings.log_level)
    log = get_logger(f"sync.{args.crm}")
    env = sink_settings.Env()
    try:
        common = sink_settings.common(env)
        crm = sink_settings.hubspot(env) if args.crm == "hubspot" else sink_settings.salesforce(env)
        defaults = HUBSPOT_DEFAULTS if args.crm == "hubspot" else SALESFORCE_DEFAULTS
        mapping = load_crm_mapping(args.mapping, defaults)
    except (SettingsError, CrmMappingError) as exc:
        print(f"cs-signals sync {args.crm}: bad configuration: {exc}", file=sys.stderr)
        return 2

    def build(rt: Runtime) -> Any:
        state = CrmState(rt.redis, settings.redis_prefix, args.crm)
        if args.crm == "hubspot":
            from workers.delivery.hubspot import SOURCE, HubSpotSync

            sink: Any = HubSpotSync(
                rt.session,
                crm.api_url,
                crm.token,
                mapping,
                state,
                common.policy,
                rt.sleep,
                log,
                rt.on_retry,
            )
        else:
            from workers.delivery.salesforce import SOURCE, SalesforceSync

            sink = SalesforceSync(
                rt.session,
                crm.instance_url,
                crm.api_version,
                crm.token,
                mapping,
                state,
                common.policy,
                rt.sleep,
                log,
                concurrency=common.concurrency,
                on_retry=rt.on_retry,
            )
        poller = ClosedPoller(
            SOURCE,
            sink.closed_since,
            state,
            rt.producer,
            settings.topic("task-feedback"),
            crm.poll_seconds,
            rt.sleep,
            log,
        )
        rt.background.append(poller.run)
        return sink

    group = f"{settings.app_id}-sync-{args.crm}"
    describe = {"id_field": mapping.id_field, "poll_seconds": crm.poll_seconds}
    return asyncio.run(
        run_sink(settings, common, group, build, log, start=args.start, describe=describe)
    )
