"""Short links in SMS (``/n/<code>``) and one-click unsubscribe (``/u/<token>``, RFC 8058)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, redirect, render_template_string

from alerts.config import settings
from alerts.dispatch.messages import notice_id_from_code, read_unsubscribe_token
from alerts.extensions import db
from alerts.residents.optout import opt_out

logger = logging.getLogger(__name__)

bp = Blueprint("delivery_links", __name__)


# In a template file so that its words are extracted into the catalogue.
UNSUBSCRIBE_PAGE = '{% include "public/unsubscribe.html" %}'


@bp.get("/n/<code>")
def short_link(code: str):
    """Redirect an SMS short link to the notice's public page."""
    notice_id = notice_id_from_code(code)
    if notice_id is None:
        abort(404)
    return redirect(f"/notices/{notice_id}", code=302)


def _token(token: str) -> tuple[int, str]:
    parsed = read_unsubscribe_token(settings().secret_key, token)
    if parsed is None:
        abort(404)
    return parsed


@bp.get("/u/<token>")
def unsubscribe_page(token: str):
    """A page with one button: a GET must not unsubscribe (link scanners follow links)."""
    _, channel = _token(token)
    return render_template_string(UNSUBSCRIBE_PAGE, done=False, channel=channel)


@bp.post("/u/<token>")
def unsubscribe(token: str):
    """One-click unsubscribe (RFC 8058 POST from a mail provider, or the page's button)."""
    subscriber_id, channel = _token(token)
    opt_out(db.session, channel=channel, subscriber_id=subscriber_id)
    db.session.commit()
    logger.info("subscriber %s unsubscribed from %s", subscriber_id, channel)
    return Response(
        render_template_string(UNSUBSCRIBE_PAGE, done=True, channel=channel), mimetype="text/html"
    )
