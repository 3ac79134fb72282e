"""Places: zones, the address register, notice areas and who is inside them.

Here live the zone and address models (``models``), zone import and lookup by
point (``zones``), the address register with import, geocoding and
autocomplete (``register``), the console's zone uploads and import records
(``admin``), a notice's area from zones, a polygon or a circle (``areas``), the
subscribers inside an area (``targeting``), the public place lookups of the API
(``api``) and ``varsla zones``/``addresses import`` (``cli``).

The geometry itself is ``geodata`` (no Flask, no database); this feature does
the SQL. May import ``geodata`` and the shared modules of ``alerts``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The public place lookups, the import commands, and forgetting unconfirmed uploads."""
    from alerts.places import admin, api, cli
    from alerts.scheduling import register_job

    register_job(app, "forget_old_zone_uploads", admin.forget_old_uploads)
    app.register_blueprint(api.bp)
    api.document(app)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
