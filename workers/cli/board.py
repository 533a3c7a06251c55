"""`cs-signals board`: the live CSM board in the browser (workers/board/)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

BOARD_HELP = """\
Serve the CSM board: My book (accounts ranked by health and ARR at risk, open tasks with their
due times, reasons and steps), account pages (health over time, components, signals, task
history), live updates, task actions (acknowledge, snooze, done, dismiss: published to
task-feedback) and a team view for leads. Users and roles come from --users (password hashes
from --hash-password), or the user from --trusted-header set by a reverse proxy. README: "The
CSM board"."""


def register(sub: Any) -> None:
    from workers.board.settings import settings_epilog

    parser = sub.add_parser(
        "board",
        help="serve the live CSM board in the browser",
        description=BOARD_HELP,
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (default 8080)")
    parser.add_argument("--users", metavar="FILE", help="users file (YAML or JSON)")
    parser.add_argument(
        "--trusted-header",
        metavar="NAME",
        help="take the user from this header, set by a reverse proxy that strips it from clients",
    )
    parser.add_argument("--public-origin", metavar="URL", help="e.g. https://board.example.com")
    parser.add_argument("--clock", choices=("wall", "event"), help="see CS_BOARD_CLOCK")
    parser.add_argument("--history", metavar="N", help="health points kept per account")
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (prompt, or stdin when piped) and print its hash for the users file",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.hash_password:
        return _hash_password()
    from workers.cli.settings import settings_or_exit

    settings = settings_or_exit()
    from config.settings import SettingsError
    from workers.board.auth import UserDirectory, UsersFileError
    from workers.board.settings import load_board_settings
    from workers.logs import configure_logging, get_logger

    configure_logging(settings.log_format, settings.log_level)
    flags = {
        name: getattr(args, name)
        for name in ("host", "port", "users", "trusted_header", "public_origin", "clock", "history")
    }
    try:
        board = load_board_settings(flags)
    except SettingsError as exc:
        print(f"cs-signals board: bad configuration: {exc}", file=sys.stderr)
        return 2
    log = get_logger("board")
    try:
        users = UserDirectory(board.users_file, not board.trusted_header, log)
    except UsersFileError as exc:
        print(f"cs-signals board: bad configuration: --users {exc}", file=sys.stderr)
        return 2
    import asyncio

    from workers.board.server import run_board

    return asyncio.run(run_board(settings, board, users, log))


def _hash_password() -> int:
    from workers.board.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("cs-signals board: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("cs-signals board: the password is empty", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0
