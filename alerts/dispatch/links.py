"""Short links in SMS (``/n/<code>``).

The one-click unsubscribe (``/u/<token>``, RFC 8058) is a resident's page:
:mod:`alerts.residents.views`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect

from alerts.dispatch.messages import notice_id_from_code

logger = logging.getLogger(__name__)

bp = Blueprint("delivery_links", __name__)


@bp.get("/n/<code>")
def short_link(code: str):
    """Redirect an SMS short link to the notice's public page."""
    notice_id = notice_id_from_code(code)
    if notice_id is None:
        abort(404)
    return redirect(f"/notices/{notice_id}", code=302)
