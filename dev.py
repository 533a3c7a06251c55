#!/usr/bin/env python3
"""One command for a fresh clone: `python3 dev.py demo` or `python3 dev.py test`.

Creates `.venv` next to this file (once), installs cs-signals into it (with the test extras
for `test`), then runs the demo or the whole test suite. Needs only Python 3.11+.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".cs-signals-installed"


def _run(*cmd: str) -> None:
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    if not (BIN / "python").exists():
        print(f"creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = f"{extras}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing cs-signals and its dependencies (first run only) …", flush=True)
    _run(str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    _run(str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", target)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__.strip())
        print("\nusage: python3 dev.py demo [demo options] | python3 dev.py test [pytest options]")
        return 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        ensure_venv("")
        return subprocess.call([str(BIN / "cs-signals"), "demo", *rest], cwd=ROOT)
    ensure_venv("test")
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
