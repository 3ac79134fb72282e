"""What the public sees: pages, RSS/Atom and CAP feeds, the banner and its data.

Here live the queries for what may be public (``queries``: no Flask), the
public pages (``pages``), the feeds, CAP documents and banner endpoints
(``feed_views``), and ``/api/v1/active``, the banner's data (``banner_api``).
Rendering is ``channels`` (feeds, CAP, banner).

May import ``alerts.notices`` (models, snapshots), ``alerts.places``,
``channels`` and the shared modules of ``alerts``. Nothing here writes, except the
content version counter (``version``), bumped inside the writer's own transaction.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The public pages, feeds, CAP, banner and banner data."""
    from alerts.public import banner_api, feed_views, pages, serving, version

    for blueprint in (feed_views.bp, pages.bp, banner_api.bp):
        app.register_blueprint(blueprint)
    banner_api.document(app)
    version.watch()
    serving.init_app(app)
