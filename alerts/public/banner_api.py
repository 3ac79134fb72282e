"""The public JSON behind the banner: ``GET /api/v1/active``, open to every origin.

No authentication, no cookies: ``Access-Control-Allow-Origin: *`` without
credentials, so any site may fetch it (banner.js does, with
``credentials: "omit"``). An unknown zone is a 404 problem (not an empty list),
so a typo in ``data-zone`` shows up in the browser console instead of
silently showing nothing forever.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response

from alerts.public.feeds import (
    active_snapshots,
    base_url,
    cached_response,
    place_from_request,
    requested_lang,
)
from channels.banner import active_json
from channels.feeds import EPOCH

logger = logging.getLogger(__name__)

bp = Blueprint("api_public", __name__, url_prefix="/api/v1")

ACTIVE_MAX_AGE_S = 30


@bp.after_request
def _cors(response: Response) -> Response:
    # Also on errors (404 unknown zone, 400 bad point), so the caller can read them.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    return response


@bp.get("/active")
def active() -> Response:
    """Active notices for ``?zone=`` or ``?lat=&lon=`` (all of them without either),
    most severe first; ``?lang=sv|en``. See ``channels.banner.active_payload``."""
    zone, lon, lat = place_from_request()
    lang = requested_lang()

    def render() -> tuple[bytes, datetime]:
        snapshots = active_snapshots(zone, lon, lat)
        body = active_json(snapshots, lang, base_url=base_url())
        return body, max((s.updated for s in snapshots), default=EPOCH)

    return cached_response(
        ("active", zone, lon, lat, lang), "application/json", render, max_age=ACTIVE_MAX_AGE_S
    )
