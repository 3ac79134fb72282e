"""The email a resident reads: subject, plain-text and HTML bodies, and bulk-sender headers.

:func:`compose_email` writes the plain text here and the HTML through
``templates/email.html`` (autoescaped: notice text can never become markup),
plus the list headers mail providers expect from bulk senders: List-Id,
List-Unsubscribe with RFC 8058 one-click List-Unsubscribe-Post,
Auto-Submitted. Sending it is :class:`channels.providers.smtp.SmtpEmail`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

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


#: Stand-ins for what differs between the recipients of one revision's email. NUL never
#: occurs in notice text (control characters are refused where it is written) nor in an
#: address or a link, and markup escaping leaves it as it is.
_ADDRESS = "\x00address\x00"
_MANAGE_URL = "\x00manage\x00"
_UNSUBSCRIBE_URL = "\x00unsubscribe\x00"


@dataclass(frozen=True)
class EmailTemplate:
    """One revision's email in one language, rendered once, with each recipient's address,
    links and Message-ID left open; :meth:`fill` makes one recipient's message.

    A dispatcher sends a revision's email to thousands of residents. Rendering the
    bodies (and the HTML template) for each of them was most of the CPU an email cost
    to compose; filling in three strings is a few microseconds.
    """

    subject: str
    body: str
    html: str
    language: str
    expires: datetime | None
    list_id: str
    message_id_domain: str
    unsubscribe_mailto: str | None
    exercise: bool

    def fill(
        self,
        *,
        address: str,
        reference: str,
        manage_url: str,
        unsubscribe_url: str,
        one_click_url: str,
    ) -> Message:
        """The message one recipient gets (see :func:`compose_email`)."""
        plain = {_ADDRESS: address, _MANAGE_URL: manage_url, _UNSUBSCRIBE_URL: unsubscribe_url}
        body, html = self.body, self.html
        for stand_in, value in plain.items():
            body = body.replace(stand_in, value)
            # The template escaped the stand-in (a no-op); the value is escaped as it would be.
            html = html.replace(stand_in, str(escape(value)))
        headers = {
            "Message-ID": f"<{reference}@{self.message_id_domain}>",
            "List-Id": self.list_id if "<" in self.list_id else f"<{self.list_id}>",
        }
        if not self.exercise:  # an exercise has no subscription behind it to leave
            if not one_click_url.startswith("https://"):
                logger.warning(
                    "one-click unsubscribe URL is not HTTPS (RFC 8058 requires it): %s",
                    one_click_url,
                )
            list_unsubscribe = f"<{one_click_url}>"
            if self.unsubscribe_mailto:
                mailto = self.unsubscribe_mailto
                if not mailto.startswith("mailto:"):
                    mailto = "mailto:" + mailto
                list_unsubscribe += f", <{mailto}>"
            headers["List-Unsubscribe"] = list_unsubscribe
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
        return Message(
            body=body,
            subject=self.subject,
            html=html,
            language=self.language,
            reference=reference,
            headers=headers,
            expires=self.expires,
        )


def email_template(
    snapshot: NoticeSnapshot,
    language: str,
    *,
    list_id: str,
    unsubscribe_mailto: str | None = None,
    message_id_domain: str | None = None,
) -> EmailTemplate:
    """The email of ``snapshot`` in ``language`` (falling back to Swedish), every recipient's
    part open (see :func:`compose_email` for the arguments)."""
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
        address=_ADDRESS,
        manage_url=_MANAGE_URL,
        unsubscribe_url=_UNSUBSCRIBE_URL,
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
        address=_ADDRESS,
        manage_url=_MANAGE_URL,
        unsubscribe_url=_UNSUBSCRIBE_URL,
        exercise=snapshot.exercise,
    )
    return EmailTemplate(
        subject=subject,
        body=body,
        html=html_body,
        language=lang,
        expires=snapshot.expires,
        list_id=list_id,
        message_id_domain=message_id_domain or _domain_of(snapshot.sender),
        unsubscribe_mailto=unsubscribe_mailto,
        exercise=snapshot.exercise,
    )


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
    template = email_template(
        snapshot,
        language,
        list_id=list_id,
        unsubscribe_mailto=unsubscribe_mailto,
        message_id_domain=message_id_domain,
    )
    return template.fill(
        address=recipient.address,
        reference=reference,
        manage_url=manage_url,
        unsubscribe_url=unsubscribe_url,
        one_click_url=one_click_url,
    )
