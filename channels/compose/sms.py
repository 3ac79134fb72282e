"""The SMS a resident reads: prefix, headline, instruction, as much description as fits, the link.

:func:`compose_sms` keeps the text GSM-7 where it can (see :mod:`channels.gsm`)
and within :data:`MAX_SEGMENTS` parts. Sending it is
:class:`channels.providers.twilio.TwilioSms`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.base import Message, NoticeSnapshot
from channels.gsm import max_units, sms_info, to_gsm7_if_possible
from channels.labels import prefix_for, promises

logger = logging.getLogger(__name__)

#: The most SMS parts one notice may take (3 × 153 GSM-7 characters, 3 × 67 UCS-2).
MAX_SEGMENTS = 3


def _clean(text: str) -> str:
    """One line per paragraph, no trailing blanks: SMS has no room for layout."""
    return " ".join(text.split())


def _fits(text: str, segments: int) -> bool:
    return sms_info(to_gsm7_if_possible(text)).segments <= segments


def _truncate_to_fit(build: Callable[[str], str], text: str, segments: int) -> str | None:
    """Longest word-boundary prefix of ``text`` (with "...") for which ``build(prefix)`` fits.

    Returns None when not even one word fits.
    """
    words = text.split(" ")
    lo, hi = 0, len(words) - 1  # number of words kept, the whole text has already failed
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid == 0:
            lo = 1
            continue
        candidate = " ".join(words[:mid]).rstrip(" ,.;:-") + "..."
        if _fits(build(candidate), segments):
            best = candidate
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def compose_sms(
    snapshot: NoticeSnapshot,
    language: str,
    *,
    link: str,
    reference: str,
    max_segments: int = MAX_SEGMENTS,
) -> Message:
    """The SMS a subscriber reads, in their language (falling back to Swedish).

    Layout: ``[PREFIX: ]headline`` / the promised times ("Nästa besked senast
    14:00. Beräknat klart 16:00") / instruction / description / link, one per
    line. Typography is straightened to GSM-7 when that makes the whole text
    GSM-7. When the text would take more than ``max_segments`` parts the
    description is shortened first, then dropped, then the instruction, then
    the headline; the promised times and the link are never cut.
    """
    lang = snapshot.text_language(language)
    wording = snapshot.texts[lang]
    headline = prefix_for(snapshot, lang) + _clean(wording.headline)
    instruction = _clean(wording.instruction)
    description = _clean(wording.description)
    link = link.strip()
    promised = ". ".join(promises(snapshot, lang))

    def assemble(head: str, instr: str, desc: str) -> str:
        return "\n".join(part for part in (head, promised, instr, desc, link) if part)

    body: str | None = assemble(headline, instruction, description)
    if not _fits(body or "", max_segments):
        body = None
        if description:
            cut = _truncate_to_fit(
                lambda d: assemble(headline, instruction, d), description, max_segments
            )
            if cut is not None:
                body = assemble(headline, instruction, cut)
        if body is None and _fits(assemble(headline, instruction, ""), max_segments):
            body = assemble(headline, instruction, "")
        if body is None and instruction:
            cut = _truncate_to_fit(lambda i: assemble(headline, i, ""), instruction, max_segments)
            if cut is not None:
                body = assemble(headline, cut, "")
        if body is None:
            cut = _truncate_to_fit(lambda h: assemble(h, "", ""), headline, max_segments)
            body = assemble(cut or "", "", "")
            if not _fits(body, max_segments):  # a link longer than the budget: send it anyway
                logger.warning("sms %s: link alone exceeds %d parts", reference, max_segments)
    text = to_gsm7_if_possible(body or "")
    info = sms_info(text)
    if info.length_units > max_units(info.encoding, max_segments):
        logger.warning("sms %s: %d parts", reference, info.segments)
    return Message(body=text, language=lang, reference=reference, expires=snapshot.expires)
