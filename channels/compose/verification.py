"""Composing what a resident gets while signing up: a code by SMS, a link by email.

The application chooses the wording (its own catalogue, in the resident's
language) and hands it over as text; this module shapes it into a
:class:`~channels.base.Message` as the providers expect: the SMS body, or an
email's plain and HTML bodies (escaped) with headers that keep auto-responders
quiet. Nothing here sends.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from channels.base import Message


def compose_verification_sms(text: str, *, language: str, reference: str) -> Message:
    """An SMS whose whole body is ``text`` (a code and who sent it)."""
    return Message(body=" ".join(text.split()), language=language, reference=reference)


def compose_link_email(
    *,
    subject: str,
    paragraphs: list[str],
    link: str,
    link_text: str,
    footer: str,
    language: str,
    reference: str,
    domain: str,
) -> Message:
    """An email with a few paragraphs and one link (verification or manage link).

    The plain body shows the link on its own line; the HTML body shows it as a
    link named ``link_text``. Every text is escaped in the HTML.
    """
    plain = "\n\n".join([*paragraphs, f"{link_text}:\n{link}", footer]).strip() + "\n"
    html = Markup(
        '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{subject}</title>'
        '</head><body>{paragraphs}<p><a href="{link}">{link_text}</a></p>'
        '<p style="color:#555">{footer}</p></body></html>'
    ).format(
        lang=language,
        subject=subject,
        paragraphs=Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs),
        link=link,
        link_text=link_text,
        footer=escape(footer),
    )
    return Message(
        body=plain,
        subject=subject,
        html=str(html),
        language=language,
        reference=reference,
        headers={
            "Message-ID": f"<{reference}@{domain}>",
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
