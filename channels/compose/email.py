"""The email a resident reads: subject, plain-text and HTML bodies, and bulk-sender headers.

:func:`compose_email` writes the plain text here and the HTML through
``templates/email.html`` (autoescaped: notice text can never become markup),
plus the list headers mail providers expect from bulk senders: List-Id,
List-Unsubscribe with RFC 8058 one-click List-Unsubscribe-Post,
Auto-Submitted. Sending it is :class:`channels.providers.smtp.SmtpEmail`'s job.
"""

from __future__ import annotations

import logging

from channels.base import Message, NoticeSnapshot, Recipient, local_time
from channels.i18n import translations
from channels.labels import prefix_for, promises
from channels.templating import render

logger = logging.getLogger(__name__)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _lines(paragraphs: list[str]) -> list[list[str]]:
    """Each paragraph as its lines: the HTML keeps a resident's line breaks as ``<br>``."""
    return [[line.strip() for line in paragraph.split("\n")] for paragraph in paragraphs]


def _validity(snapshot: NoticeSnapshot, lang: str) -> str:
    _ = translations(lang).gettext
    parts = []
    if snapshot.onset:
        parts.append(_("from %(time)s") % {"time": local_time(snapshot.onset)})
    if snapshot.expires:
        parts.append(_("until %(time)s") % {"time": local_time(snapshot.expires)})
    return " ".join(parts)


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip().strip(">")
    return domain or "localhost"


def _plain_body(
    *,
    lang: str,
    subject: str,
    promised: list[str],
    description: list[str],
    all_clear: bool,
    instruction: list[str],
    area: str,
    validity: str,
    url: str,
    address: str,
    manage_url: str,
    unsubscribe_url: str,
    exercise: bool = False,
) -> str:
    _ = translations(lang).gettext
    lines = [subject, ""]
    if promised:
        lines += [*(f"{line}." for line in promised), ""]
    if description:
        lines += [*description, ""]
    elif all_clear:
        lines += [_("The alert is over."), ""]
    if instruction:
        lines += [_("What to do:"), *instruction, ""]
    if area:
        lines += [_("Area: %(area)s") % {"area": area}]
    if validity:
        lines += [_("Valid %(period)s") % {"period": validity}]
    if url:
        lines += [_("Read more: %(url)s") % {"url": url}]
    if exercise:  # a test-group member, not a subscriber: nothing to manage
        lines += [
            "",
            "-- ",
            _(
                "This is an exercise, sent to the test group at %(address)s. Residents did not get it."
            )
            % {"address": address},
        ]
        return "\n".join(lines).replace("\n\n\n", "\n\n").strip() + "\n"
    lines += [
        "",
        "-- ",  # the signature separator mail readers fold away
        _(
            "You receive this message at %(address)s because you subscribed to "
            "alerts for your address."
        )
        % {"address": address},
        _("Change your subscription: %(url)s") % {"url": manage_url},
        _("Unsubscribe: %(url)s") % {"url": unsubscribe_url},
    ]
    return "\n".join(lines).replace("\n\n\n", "\n\n").strip() + "\n"


def compose_email(
    snapshot: NoticeSnapshot,
    language: str,
    *,
    recipient: Recipient,
    reference: str,
    list_id: str,
    manage_url: str,
    unsubscribe_url: str,
    one_click_url: str,
    unsubscribe_mailto: str | None = None,
    message_id_domain: str | None = None,
) -> Message:
    """The email a subscriber reads, in their language (falling back to Swedish).

    ``unsubscribe_url`` is the page a reader clicks; ``one_click_url`` is the
    HTTPS endpoint mail providers POST ``List-Unsubscribe=One-Click`` to (RFC
    8058). ``list_id`` is a dotted identifier (``vatten.motala.varsla``) or a
    full ``Name <id>`` value. The Message-ID is ``<reference@domain>``, the
    domain being ``message_id_domain`` or that of ``snapshot.sender``.
    """
    lang = snapshot.text_language(language)
    wording = snapshot.texts[lang]
    all_clear = snapshot.kind == "Cancel"
    subject = " ".join((prefix_for(snapshot, lang) + wording.headline).split())
    area = snapshot.area_text(lang)
    validity = "" if all_clear else _validity(snapshot, lang)
    description = _paragraphs(wording.description)
    instruction = _paragraphs(wording.instruction)
    promised = promises(snapshot, lang)
    body = _plain_body(
        lang=lang,
        subject=subject,
        promised=promised,
        description=description,
        all_clear=all_clear,
        instruction=instruction,
        area=area,
        validity=validity,
        url=snapshot.url,
        address=recipient.address,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        exercise=snapshot.exercise,
    )
    html_body = render(
        "email.html",
        lang,
        sender_name=snapshot.sender_name,
        subject=subject,
        promised=promised,
        description=_lines(description),
        all_clear=all_clear,
        instruction=_lines(instruction),
        area=area,
        validity=validity,
        url=snapshot.url,
        address=recipient.address,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        exercise=snapshot.exercise,
    )

    if not one_click_url.startswith("https://"):
        logger.warning(
            "one-click unsubscribe URL is not HTTPS (RFC 8058 requires it): %s", one_click_url
        )
    list_unsubscribe = f"<{one_click_url}>"
    if unsubscribe_mailto:
        mailto = unsubscribe_mailto
        if not mailto.startswith("mailto:"):
            mailto = "mailto:" + mailto
        list_unsubscribe += f", <{mailto}>"
    domain = message_id_domain or _domain_of(snapshot.sender)
    headers = {
        "Message-ID": f"<{reference}@{domain}>",
        "List-Id": list_id if "<" in list_id else f"<{list_id}>",
        "List-Unsubscribe": list_unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if snapshot.exercise:  # no subscription behind it to unsubscribe from
        del headers["List-Unsubscribe"], headers["List-Unsubscribe-Post"]
    return Message(
        body=body,
        subject=subject,
        html=html_body,
        language=lang,
        reference=reference,
        headers=headers,
        expires=snapshot.expires,
    )
