"""Every channel's rendering of a revision, for the console to show before it is sent.

The SMS as the phone shows it (parts, encoding, cost estimate), the email (HTML and
text), the feed entry, the banner and the CAP document: all made by the same code that
makes the real thing (``alerts.dispatch.messages``, ``channels.*``) from the revision's
snapshot, so what the approver sees is what goes out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.dispatch.messages import Composer, Links, for_sending, short_link, sms_preview
from alerts.notices.models import Notice, NoticeRevision
from alerts.notices.schemas import DESCRIPTION_MAX, HEADLINE_MAX, INSTRUCTION_MAX
from alerts.notices.snapshots import build_snapshot
from alerts.orm import utcnow
from channels.banner import render_banner_html
from channels.base import NoticeSnapshot, NoticeText, Recipient
from channels.cap import render_cap
from channels.compose.sms import compose_sms
from channels.feeds import FeedInfo, feed_urn, render_rss
from channels.gsm import sms_info

PREVIEW_EMAIL = {"sv": "invanare@exempel.se", "en": "resident@example.com"}


@dataclass
class EmailPreview:
    subject: str
    text: str
    html: str


def sms_parts(text: str) -> dict[str, Any]:
    """Parts and encoding of an SMS carrying ``text`` (for the editor's counters)."""
    info = sms_info(text)
    return {
        "characters": len(text),
        "encoding": info.encoding,
        "segments": info.segments,
        "length_units": info.length_units,
    }


def sms_previews(
    session: Session, notice: Notice, revision: NoticeRevision, recipients: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per language: the SMS, its parts and encoding, and its cost for ``recipients[lang]``."""
    config = settings()
    found = sms_preview(build_snapshot(session, notice, revision), config.base_url)
    out: dict[str, dict[str, Any]] = {}
    for language, preview in found.items():
        count = recipients.get(language, 0)
        out[language] = {
            **preview,
            "recipients": count,
            "cost_each": preview["segments"] * config.sms_price,
            "cost": preview["segments"] * config.sms_price * count,
        }
    return out


def email_preview(
    session: Session, notice: Notice, revision: NoticeRevision, language: str
) -> EmailPreview:
    """The email a subscriber reading ``language`` gets."""
    config = settings()
    snapshot = build_snapshot(session, notice, revision)
    composer = Composer(Links(config.base_url, "preview"))
    recipient = Recipient(
        address=PREVIEW_EMAIL.get(language, PREVIEW_EMAIL["sv"]), language=language
    )
    message = composer.email(snapshot, recipient, 0, "preview")
    return EmailPreview(message.subject, message.body, message.html)


def feed_preview(session: Session, notice: Notice, revision: NoticeRevision, lang: str) -> str:
    """The RSS document with this revision as its one entry."""
    config = settings()
    snapshot = for_sending(build_snapshot(session, notice, revision))
    feed = FeedInfo(
        title=config.sender_name,
        feed_id=feed_urn(f"preview#{lang}"),
        self_url=f"{config.base_url}/feeds/notices.rss",
        alternate_url=f"{config.base_url}/",
        author_name=config.sender_name,
    )
    return render_rss([snapshot], feed=feed, lang=lang).decode()


def banner_preview(session: Session, notice: Notice, revision: NoticeRevision, lang: str) -> str:
    """The banner's HTML fragment showing this revision."""
    snapshot = build_snapshot(session, notice, revision)
    return render_banner_html([snapshot], lang, base_url=settings().base_url)


def cap_preview(session: Session, notice: Notice, revision: NoticeRevision) -> str:
    """The CAP 1.2 document of this revision."""
    return render_cap(build_snapshot(session, notice, revision)).decode()


def typed_sms(
    texts: dict[str, dict[str, str]],
    *,
    next_update: datetime | None = None,
    expected_restoration: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """Per language, the SMS the typed ``texts`` (and promised times) would make: its body,
    parts and encoding.

    For the editor's counters, before anything is saved; composed by the code that
    composes the real SMS, with the link a real one carries.
    """
    config = settings()
    notice_id = uuid.UUID(int=0)
    wording = {
        lang: NoticeText(
            (fields.get("headline") or "")[:HEADLINE_MAX],
            (fields.get("description") or "")[:DESCRIPTION_MAX],
            (fields.get("instruction") or "")[:INSTRUCTION_MAX],
        )
        for lang, fields in texts.items()
        if lang in ("sv", "en") and isinstance(fields, dict) and any(fields.values())
    }
    now = utcnow()
    snapshot = NoticeSnapshot(
        notice_id=notice_id,
        revision=1,
        identifier="preview",
        msg_type="Alert",
        status="draft",
        category="other",
        severity="Unknown",
        urgency="Unknown",
        certainty="Unknown",
        texts=wording,
        sent=now,
        updated=now,
        next_update=next_update,
        expected_restoration=expected_restoration,
    )
    out = {}
    for lang in wording:
        message = compose_sms(
            snapshot, lang, link=short_link(config.base_url, notice_id), reference=""
        )
        out[lang] = {"body": message.body, **sms_parts(message.body)}
    return out
