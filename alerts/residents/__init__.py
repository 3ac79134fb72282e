"""Residents: subscribers, their addresses and contact details, and their data rights.

Here live the subscriber models (``models``), the bulk import from a utility's
customer register (``register_import``), erasure (``erasure``), and
``varsla residents import``/``erase`` (``cli``).

May import ``alerts.places`` (the address register), ``geodata`` and the shared
modules of ``alerts``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The residents commands."""
    from alerts.residents import cli

    for command in cli.COMMANDS:
        app.cli.add_command(command)
