"""`cs-signals demo --board`: after the replay, the CSM board on a free port with demo users
(one per CSM of the sample and a lead), until Ctrl-C. The worker keeps running, so actions on
the board (done, dismiss, snooze) reach it and the board updates live."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table

from workers.board.auth import hash_password
from workers.local.embedded import free_port
from workers.local.processes import stop_process
from workers.local.sample.catalogue import CSMS

DEMO_PASSWORD = "demo"
LEAD = "lead"


def _users_file(folder: Path) -> tuple[Path, list[tuple[str, str, str]]]:
    hashed = hash_password(DEMO_PASSWORD)
    rows = [(LEAD, "lead", "sees every CSM, and the team view")]
    lines = ["users:", f"  {LEAD}: {{role: lead, name: CS lead, password: '{hashed}'}}"]
    for csm in CSMS:
        name = csm.removeprefix("csm-")
        lines.append(
            f"  {name}: {{role: csm, csm_id: {csm}, name: {name.title()}, password: '{hashed}'}}"
        )
        rows.append((name, "csm", f"the accounts of {csm}"))
    path = folder / "board-users.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, rows


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "login", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def serve_board(console: Console, env: dict[str, str], worker: subprocess.Popen[bytes]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="cs-signals-demo-board-"))
    users, rows = _users_file(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_file = folder / "board.log"
    board_env = {**env, "CS_BOARD_SECRET": secrets.token_urlsafe(32)}
    board: subprocess.Popen[bytes] | None = None
    try:
        with log_file.open("wb") as log:
            board = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "workers.cli",
                    "board",
                    "--port",
                    str(port),
                    "--users",
                    str(users),
                    "--clock",
                    "event",
                ],
                env=board_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        with console.status("Starting the CSM board…"):
            while not _answers(url):
                if board.poll() is not None or time.monotonic() > deadline:
                    console.print("[red]The board did not start.[/] Last log lines:")
                    console.print(log_file.read_text(errors="replace")[-3000:])
                    return 1
                time.sleep(0.3)
        table = Table(title=f"Demo users (password: {DEMO_PASSWORD})")
        for column in ("user", "role", "sees"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(
            f"[bold green]The CSM board is open on {url}[/] — sign in as [bold]{LEAD}[/] or a "
            f"CSM (e.g. [bold]ana[/]), password [bold]{DEMO_PASSWORD}[/]. The worker keeps "
            "running. Ctrl-C stops everything."
        )
        while board.poll() is None and worker.poll() is None:
            time.sleep(0.5)
        console.print("[red]The board or the worker stopped.[/]")
        return 1
    except KeyboardInterrupt:
        console.print("\n[yellow]Stopping the board…[/]")
        return 0
    finally:
        stop_process(board)
        shutil.rmtree(folder, ignore_errors=True)
