"""The embeddable banner: the JSON behind ``/api/v1/active``, the iframe HTML, banner.js.

The web layer picks the snapshots (a zone's or a point's active notices, plus
recent all-clears if it wants them shown) and serves what these functions
return. Everything here is deterministic: no clock, no request. The iframe
document is ``templates/banner.html``.

Severity is always shown as a text label and a symbol, never by colour alone;
each colour pair below has a contrast ratio of at least 4.5:1 (WCAG AA), which
``tests/channels/test_banner.py`` checks for Python and banner.js alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

from channels.base import SEVERITY_ORDER, NoticeSnapshot, ui_language
from channels.labels import (
    category_label,
    promises,
    severity_label,
    status_key,
    status_label,
)
from channels.templating import render

logger = logging.getLogger(__name__)

# (background, text) per severity; "ended" is an all-clear or expired notice.
PALETTE = {
    "Extreme": ("#7f0000", "#ffffff"),
    "Severe": ("#b3261e", "#ffffff"),
    "Moderate": ("#ffd54f", "#1f1f1f"),
    "Minor": ("#e3f0fb", "#0b2e4f"),
    "Unknown": ("#eeeeee", "#1f1f1f"),
    "ended": ("#e6f4ea", "#14532d"),
}
SYMBOLS = {
    "Extreme": "\u26d4",  # no entry
    "Severe": "\u26a0",  # warning sign
    "Moderate": "\u25b2",  # triangle
    "Minor": "\u2139",  # information
    "Unknown": "\u2022",  # bullet
    "ended": "\u2713",  # check mark
}
ALERTING_SEVERITIES = frozenset({"Extreme", "Severe"})


def _sort_key(snapshot: NoticeSnapshot) -> tuple[bool, int, float, str]:
    # Active before ended, most severe first, then newest; the id keeps ties stable.
    return (
        snapshot.ended,
        SEVERITY_ORDER.get(snapshot.severity, len(SEVERITY_ORDER)),
        -snapshot.updated.timestamp(),
        str(snapshot.notice_id),
    )


def ordered(snapshots: Iterable[NoticeSnapshot]) -> list[NoticeSnapshot]:
    """Active before ended, most severe first, then newest first."""
    return sorted(snapshots, key=_sort_key)


def notice_url(snapshot: NoticeSnapshot, base_url: str) -> str:
    """URL of the notice page, resolved against ``base_url`` (absolute when it is).

    Only http(s) (or, with an empty ``base_url``, relative) URLs pass: a
    ``javascript:`` URL in the data raises ``ValueError``.
    """
    path = snapshot.url or f"/notices/{snapshot.notice_id}"
    url = urljoin(base_url.rstrip("/") + "/", path) if base_url else path
    if urlsplit(url).scheme not in ("http", "https", ""):
        raise ValueError(f"notice URL {url!r} is not http(s)")
    return url


def palette_key(snapshot: NoticeSnapshot) -> str:
    """The PALETTE/SYMBOLS key: ``ended`` or the severity."""
    if snapshot.ended:
        return "ended"
    return snapshot.severity if snapshot.severity in PALETTE else "Unknown"


def is_alerting(snapshots: Iterable[NoticeSnapshot]) -> bool:
    """True when an active notice is Severe or Extreme (the banner is then ``role="alert"``)."""
    return any(not s.ended and s.severity in ALERTING_SEVERITIES for s in snapshots)


def _item(snapshot: NoticeSnapshot, lang: str, base_url: str) -> dict[str, Any]:
    text = snapshot.text(lang)
    return {
        "id": str(snapshot.notice_id),
        "revision": snapshot.revision,
        "lang": snapshot.text_language(lang),
        "headline": text.headline,
        "instruction": text.instruction,
        "severity": snapshot.severity,
        "severity_label": severity_label(snapshot.severity, lang),
        "category": snapshot.category,
        "category_label": category_label(snapshot.category, lang),
        "url": notice_url(snapshot, base_url),
        "updated": snapshot.updated.astimezone(UTC).replace(microsecond=0).isoformat(),
        "ended": snapshot.ended,
        "status": status_key(snapshot) or "active",
        "status_label": status_label(snapshot, lang),
        **_promised(snapshot, lang),
    }


def _promised(snapshot: NoticeSnapshot, lang: str) -> dict[str, Any]:
    """The optional ``next_update``/``expected_restoration`` (ISO 8601 UTC) and ``promises``
    (those times in words) of an item; absent when the revision promises nothing."""
    worded = promises(snapshot, lang)
    if not worded:
        return {}
    found: dict[str, Any] = {
        name: moment.astimezone(UTC).replace(microsecond=0).isoformat()
        for name in ("next_update", "expected_restoration")
        if (moment := getattr(snapshot, name)) is not None
    }
    found["promises"] = worded
    return found


def active_payload(
    snapshots: Iterable[NoticeSnapshot], lang: str, *, base_url: str
) -> dict[str, Any]:
    """The ``/api/v1/active`` document: ``{"items": [...], "next": None, ...}``.

    Items come most severe first, then newest (active ones before ended ones).
    Each has ``id``, ``headline``, ``instruction``, ``severity``,
    ``severity_label`` (localised), ``category``, ``url``, ``updated`` (ISO 8601
    UTC), ``ended``, plus ``lang``, ``revision``, ``category_label``, ``status``
    and ``status_label`` ("Avblåst", "Uppdaterad", …), and when the revision promises
    them ``next_update``, ``expected_restoration`` (ISO 8601 UTC) and ``promises``
    ("Nästa besked senast 14:00"). ``alert`` is true when an
    active notice is Severe or Extreme.
    """
    lang = ui_language(lang)
    items = ordered(snapshots)
    return {
        "items": [_item(s, lang, base_url) for s in items],
        "next": None,
        "lang": lang,
        "alert": is_alerting(items),
    }


def active_json(snapshots: Iterable[NoticeSnapshot], lang: str, *, base_url: str) -> bytes:
    """``active_payload`` as compact UTF-8 JSON, with ``<``, ``>`` and ``&`` escaped
    as ``\\u003c`` etc. so the body is inert even if someone embeds it in HTML."""
    body = json.dumps(
        active_payload(snapshots, lang, base_url=base_url),
        ensure_ascii=False,
        separators=(",", ":"),
    )
    body = body.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return body.encode("utf-8")


def render_banner_html(snapshots: Iterable[NoticeSnapshot], lang: str, *, base_url: str) -> str:
    """A self-contained HTML document for the ``/banner`` iframe (inline CSS, no script).

    Every piece of notice text is HTML-escaped. The list is a ``role="alert"``
    region when an active notice is Severe or Extreme, else ``aria-live="polite"``.
    Links open the notice in a new tab (the iframe is someone else's page).
    """
    lang = ui_language(lang)
    ordered_snapshots = ordered(snapshots)
    items = []
    for snapshot in ordered_snapshots:
        text = snapshot.text(lang)
        key = palette_key(snapshot)
        items.append(
            {
                "key": key,
                "symbol": SYMBOLS[key],
                "lang": snapshot.text_language(lang),
                "status_label": status_label(snapshot, lang),
                "severity_label": severity_label(snapshot.severity, lang),
                "url": notice_url(snapshot, base_url),
                "headline": text.headline,
                "instruction": text.instruction,
                "promises": promises(snapshot, lang),
            }
        )
    return render(
        "banner.html",
        lang,
        palette=PALETTE,
        alerting=is_alerting(ordered_snapshots),
        items=items,
    )


def banner_js() -> bytes:
    """The embeddable ``banner.js`` (packaged with channels, read via importlib.resources)."""
    return resources.files("channels").joinpath("static", "banner.js").read_bytes()
