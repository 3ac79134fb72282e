"""Paged lists: ``{"items": [...], "next": <cursor or null>}``.

The cursor is opaque to clients; today it carries an offset into a stable
ordering, which is enough for operator lists of thousands of notices.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request
from sqlalchemy import Select
from sqlalchemy.orm import Session

from alerts.errors import ValidationFailed
from alerts.web.responses import Page

PageT = TypeVar("PageT", bound=Page)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Far past any list here; a larger offset is a forged cursor (and 2**63 overflowed SQL).
MAX_OFFSET = 10_000_000


def _decode(cursor: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))["o"]
    except (ValueError, TypeError, KeyError):
        raise ValidationFailed.on("cursor", "is not a cursor this API gave out") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed.on("cursor", "is not a cursor this API gave out")
    return offset


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def page(session: Session, query: Select, render: Callable[[Any], Any], into: type[PageT]) -> PageT:
    """One page of ``query`` (which must have a total ordering), after ``?cursor=``, as ``into``
    (a :class:`Page` of what ``render`` makes of each row)."""
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise ValidationFailed.on("limit", "must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        # Said, not clamped: a client asking for 1,000 must learn it got at most 500.
        raise ValidationFailed.on("limit", f"must be from 1 to {MAX_LIMIT}")
    offset = _decode(request.args["cursor"]) if request.args.get("cursor") else 0
    rows = list(session.scalars(query.offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    return into(
        items=[render(r) for r in rows[:limit]],
        next=_encode(offset + limit) if more else None,
    )


#: The paging query parameters, as the OpenAPI document states them.
PAGING_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "cursor",
        "in": "query",
        "description": "The previous page's `next`",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "description": f"Items per page (default {DEFAULT_LIMIT}); outside 1 to {MAX_LIMIT} "
        "is a 422",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
        },
    },
]
