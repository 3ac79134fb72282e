"""Operators: accounts, roles, passwords, login to the console, API keys for machines.

Here live the operator, API key and login-attempt models (``models``), password
hashing, API keys and login throttling (``auth``), the console's login and the
``login_required`` check (``views``), and ``varsla operators``/``apikeys`` (``cli``).

May import only the shared modules of ``alerts``: every other feature builds on it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The password hasher, console login, the console's account pages and the account
    commands."""
    from alerts.operators import account, admin, auth, cli, views

    auth.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
