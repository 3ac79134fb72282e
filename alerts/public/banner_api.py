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

from flask import Blueprint, Flask, Response

from alerts.public import readpath
from alerts.public.feed_views import (
    active_stored,
    base_url,
    place_from_request,
    requested_lang,
)
from alerts.public.responses import ActiveNotices
from alerts.public.serving import Rendered, serve
from alerts.web.openapi import Operation, add_to_document
from channels.banner import active_document, active_item_json, is_alerting, ordered
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

    def render(now: datetime) -> Rendered:
        # Each notice's item is rendered once per change of that notice and kept with it.
        kept = active_stored(zone, lon, lat, now)
        by_snapshot = {id(stored.snapshot): stored for stored in kept}
        snapshots = ordered(stored.snapshot for stored in kept)
        items = [
            readpath.rendered(
                by_snapshot[id(s)],
                ("active", lang),
                lambda s=s: active_item_json(s, lang, base_url=base_url()),  # type: ignore[misc]
            )
            for s in snapshots
        ]
        body = active_document(items, lang, alert=is_alerting(snapshots))
        modified = max((s.updated for s in snapshots), default=EPOCH)
        return Rendered(body, modified, max_age=ACTIVE_MAX_AGE_S)

    return serve(("active", zone, lon, lat, lang), "application/json", render)


def document(app: Flask) -> None:
    """Add ``/active`` to the app's OpenAPI document."""
    parameters = [
        {
            "name": "zone",
            "in": "query",
            "description": "A zone's slug; an unknown one is a 404",
            "schema": {"type": "string"},
        },
        *(
            {
                "name": name,
                "in": "query",
                "description": "Decimal degrees, WGS 84; give both lat and lon or neither",
                "schema": {"type": "number", "minimum": -limit, "maximum": limit},
            }
            for name, limit in (("lat", 90), ("lon", 180))
        ),
        {
            "name": "lang",
            "in": "query",
            "description": "sv or en (en-GB counts as en); anything else gives sv",
            "schema": {"type": "string", "default": "sv", "examples": ["sv", "en"]},
        },
    ]
    add_to_document(
        app,
        paths={
            "/active": {
                "get": Operation(
                    "Active notices for a zone or a point (all without either): the banner's data",
                    description="CORS open to every origin, without credentials. Answers carry "
                    "ETag and Last-Modified; a conditional request may get a 304.",
                    answer=ActiveNotices,
                    auth=False,
                    parameters=parameters,
                    errors={
                        400: "Only one of lat and lon, or either not a number or out of range",
                        404: "No such zone",
                    },
                    without_body={304: "Not modified since the ETag or date the request sent"},
                    headers={
                        "ETag": "Send back as If-None-Match",
                        "Last-Modified": "Send back as If-Modified-Since",
                        "Access-Control-Allow-Origin": "*",
                    },
                )
            }
        },
    )
