"""The web tier as production runs it: granian with deploy/granian.env.

Used by the benchmarks that put load on the web tier (feeds.py, load.py, faults.py), so
that they measure the server and settings an installation gets.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def settings() -> dict[str, str]:
    """deploy/granian.env as systemd's EnvironmentFile reads it (NAME=value lines)."""
    values = {}
    for line in (ROOT / "deploy" / "granian.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def start(
    port: int, env: dict[str, str], *, workers: int, threads: int | None = None, **popen: Any
) -> subprocess.Popen:
    """``granian wsgi:app`` on 127.0.0.1:``port`` with ``workers`` processes (and
    ``threads`` each, else the file's), in ``env`` over deploy/granian.env."""
    command = [str(Path(sys.executable).with_name("granian")), "--port", str(port)]
    command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--blocking-threads", str(threads)]
    return subprocess.Popen([*command, "wsgi:app"], cwd=ROOT, env={**settings(), **env}, **popen)


def name() -> str:
    return f"granian {version('granian')}"
