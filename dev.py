#!/usr/bin/env python3
"""Set up and run Varsla with nothing but Python 3.11+.

    python3 dev.py start   # virtualenv, install, migrate, demo data, serve on :5000
    python3 dev.py test    # virtualenv, install with test tools, lint, type check, run the suite

``test`` runs, in this order: ruff check, ruff format --check, mypy (alerts/, channels/,
geodata/; see [tool.mypy] in pyproject.toml), the suite on SQLite, the suite on PostgreSQL
(127.0.0.1:5432). Any failing stage fails the command; every stage runs regardless, and
each one's time is printed at the end. Without a reachable PostgreSQL the last run is
skipped with the reason, except under CI=true. pytest's "no tests collected" (exit code 5)
counts as a failure. Further arguments go to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=check).returncode


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (editable) when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"Varsla needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = f"{(ROOT / 'pyproject.toml').stat().st_mtime_ns}:{extras}"
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", target)
    STAMP.write_text(wanted)


def varsla(*args: str, check: bool = True) -> int:
    return run(BIN / "varsla", *args, check=check)


def start(argv: list[str]) -> int:
    """Install, migrate, load the demo and serve everything in one process."""
    ensure_venv("")
    port = argv[0] if argv else os.environ.get("PORT", "5000")
    host = os.environ.get("HOST", "127.0.0.1")
    # Links in messages, feeds, the banner snippet and the demo's "open …/console/" point at
    # this server unless told otherwise.
    os.environ.setdefault("VARSLA_BASE_URL", f"http://{host}:{port}")
    varsla("db", "upgrade")
    varsla("demo")
    return varsla("serve", "--host", host, "--port", port, check=False)


def _chromium_hint() -> None:
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        print(
            "note: no Chromium found; browser tests will be skipped "
            "(Debian/Ubuntu: apt-get install chromium)",
            flush=True,
        )


def test(argv: list[str]) -> int:
    """Lint, format check, type check, then the suite on SQLite and on PostgreSQL.

    Every stage runs even when an earlier one failed, so one run shows everything that is
    wrong; any failure fails the command. Arguments go to both pytest runs.
    """
    ensure_venv("test")
    _chromium_hint()
    stages: list[tuple[str, str, float]] = []  # (stage, outcome, seconds)

    def stage(name: str, *args: str | Path, env: dict[str, str] | None = None) -> None:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        code = run(*args, env=env, check=False)
        if code == 5 and name.startswith("pytest"):
            print("pytest collected no tests: that is a failure, not a pass", flush=True)
        stages.append((name, "ok" if code == 0 else f"FAILED ({code})", time.monotonic() - started))

    stage("ruff check", PYTHON, "-m", "ruff", "check", ".")
    stage("ruff format --check", PYTHON, "-m", "ruff", "format", "--check", ".")
    stage("mypy", PYTHON, "-m", "mypy")  # files and settings: [tool.mypy] in pyproject.toml
    for database in ("sqlite", "postgresql"):
        name = f"pytest on {database}"
        if database == "postgresql" and not _postgres_reachable():
            if os.environ.get("CI", "").lower() == "true":
                print(f"\n=== {name} ===\nCI=true but PostgreSQL is not reachable on "
                      "127.0.0.1:5432", flush=True)  # fmt: skip
                stages.append((name, "FAILED (no PostgreSQL)", 0.0))
            else:
                print(f"\n=== {name} ===\nSKIPPED: PostgreSQL is not reachable on "
                      "127.0.0.1:5432", flush=True)  # fmt: skip
                stages.append((name, "skipped (no PostgreSQL)", 0.0))
            continue
        env = {**os.environ, "VARSLA_TEST_DB": database}
        stage(name, PYTHON, "-m", "pytest", *_parallel(argv), *argv, env=env)

    print("\n=== summary ===", flush=True)
    for name, outcome, seconds in stages:
        print(f"{name:<22} {outcome:<24} {seconds:7.1f} s", flush=True)
    return 1 if any(outcome.startswith("FAILED") for _, outcome, _ in stages) else 0


def _parallel(argv: list[str]) -> list[str]:
    """pytest-xdist options: one worker per core and one more, unless the arguments choose
    otherwise. The suite waits a good part of its time (on browsers, subprocesses, the
    database server and fake providers' latency), so a worker more than the cores keeps
    them busy: on 2 cores, 3 workers took the PostgreSQL run from 178 s to 160 s.

    ``worksteal`` hands out tests in contiguous runs (a module's shared fixtures are built
    once per worker that runs it) and lets an idle worker take the tail of a busy one's
    queue, so one slow module (the API fuzzing, the browser flows) does not finish alone.
    Each worker gets its own database (the ``database_url`` fixture is per session).
    """
    chosen = "no:xdist" in argv or any(
        a.startswith(("-n", "--numprocesses", "--dist")) for a in argv
    )
    workers = (os.cpu_count() or 1) + 1
    return [] if chosen else ["--numprocesses", str(workers), "--dist", "worksteal"]


def _postgres_reachable() -> bool:
    code = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import psycopg; psycopg.connect("
            "'host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=3).close()",
        ],
        cwd=ROOT,
        capture_output=True,
    ).returncode
    return code == 0


COMMANDS = {"start": start, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
