"""Swedish wall-clock time: the one time zone a person reads times in.

Times are stored in UTC (see ``alerts.orm``); pages, the console, templates'
wording and the CLI show them in ``STOCKHOLM`` time through :func:`local_time`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def local_time(value: datetime | str | None, fmt: str = MINUTES) -> str:
    """``2026-11-24 08:15``: ``value`` on a Swedish clock; "" for None.

    ``value`` may be an ISO 8601 string (as reports hand them over); a naive
    datetime is taken to be UTC, as the database's columns are.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(STOCKHOLM).strftime(fmt)


def as_local(naive: datetime | None) -> datetime | None:
    """A naive wall-clock time typed into a form, as the Stockholm moment it names."""
    return naive.replace(tzinfo=STOCKHOLM) if naive else None
