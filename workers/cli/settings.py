"""The settings as the commands meet them: the help text that lists every variable, and
loading them or exiting with a message that names the bad variable."""

from __future__ import annotations

import sys

from config.settings import SETTINGS_HELP, Settings, SettingsError

SETTINGS_EPILOG = (
    "settings (environment variables, or a .env file in the current directory):\n"
    + "\n".join(
        f"  {name:<30} {meaning} (default: {default if default != '' else 'empty'})"
        for name, (default, meaning) in SETTINGS_HELP.items()
    )
)


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"cs-signals: bad configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
