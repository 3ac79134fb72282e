"""Localised labels of notices, shared by every channel and the public pages.

Category, severity and status labels, the CAP ``<event>`` a category defaults
to, the "Uppdaterad:/Avblåst:" title markers, the SMS/subject prefixes and the
short "24 nov 09:00" time. Each table maps our key to an English msgid; the
wording in other languages lives in the ``channels`` catalogues (see
:mod:`channels.i18n`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from channels.base import NoticeSnapshot, to_local
from channels.i18n import N_, translate, translations

logger = logging.getLogger(__name__)

CATEGORY_MSGIDS = {
    "water": N_("Drinking water"),
    "wastewater": N_("Wastewater"),
    "district_heating": N_("District heating"),
    "electricity": N_("Electricity"),
    "roads": N_("Roads and traffic"),
    "waste": N_("Waste collection"),
    "other": N_("Other"),
}

#: The CAP <event> when the snapshot does not name one.
DEFAULT_EVENT_MSGIDS = {
    "water": N_("Drinking water disruption"),
    "wastewater": N_("Wastewater disruption"),
    "district_heating": N_("District heating disruption"),
    "electricity": N_("Power outage"),
    "roads": N_("Traffic disruption"),
    "waste": N_("Waste collection disruption"),
    "other": N_("Notice"),
}

SEVERITY_MSGIDS = {
    "Extreme": N_("Extreme"),
    "Severe": N_("Severe"),
    "Moderate": N_("Moderate"),
    "Minor": N_("Information"),
    "Unknown": N_("Unknown severity"),
}

#: What a title says about a revision: an update, an all-clear, an expiry.
STATUS_MSGIDS = {
    "updated": N_("Updated"),
    "all_clear": N_("All clear"),
    "expired": N_("Expired"),
}

#: The upper-case word an SMS and an email subject start with, per message kind.
PREFIX_MSGIDS = {
    "Update": N_("UPDATE"),
    "Cancel": N_("ALL CLEAR"),
}

MONTH_ABBREVIATION_MSGIDS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)


def _lookup(table: dict[str, str], key: str, lang: str | None) -> str:
    msgid = table.get(key)
    if msgid is None:
        # A key added to the app before it got a label here: show the key, not nothing.
        logger.warning("no label for %r", key)
        return key
    return translate(lang, msgid)


def category_label(category: str, lang: str | None) -> str:
    """ "Dricksvatten" / "Drinking water" for ``water``; unknown keys show as themselves."""
    return _lookup(CATEGORY_MSGIDS, category, lang)


def severity_label(severity: str, lang: str | None) -> str:
    """ "Allvarligt" / "Severe" for ``Severe``; ``Minor`` reads "Information"."""
    return _lookup(SEVERITY_MSGIDS, severity, lang)


def default_event(category: str, lang: str | None) -> str:
    """The CAP ``<event>`` of a category when the notice names none: "Elavbrott"."""
    return _lookup(DEFAULT_EVENT_MSGIDS, category, lang)


def status_key(snapshot: NoticeSnapshot) -> str | None:
    """``all_clear``, ``expired``, ``updated`` or None for a plain first alert."""
    if snapshot.kind == "Cancel":
        return "all_clear"
    if snapshot.status == "expired":
        return "expired"
    if snapshot.kind == "Update":
        return "updated"
    return None


def status_label(snapshot: NoticeSnapshot, lang: str | None) -> str:
    """ "Avblåst", "Upphört", "Uppdaterad" (or English), or "" for a first alert."""
    key = status_key(snapshot)
    return _lookup(STATUS_MSGIDS, key, lang) if key else ""


def marked_headline(snapshot: NoticeSnapshot, lang: str | None) -> str:
    """The headline in ``lang`` prefixed with its status: ``Avblåst: Koka vattnet``."""
    headline = snapshot.text(lang).headline
    marker = status_label(snapshot, lang)
    return f"{marker}: {headline}" if marker else headline


#: What every text of a training-mode copy starts with ("ÖVNING – ").
EXERCISE_MSGID = N_("EXERCISE")


def prefix_for(snapshot: NoticeSnapshot, lang: str | None) -> str:
    """The SMS/subject prefix ("UPPDATERING: ", "ALL CLEAR: ", or "") in ``lang``; an
    exercise starts with "ÖVNING – " / "EXERCISE – " before that."""
    msgid = PREFIX_MSGIDS.get(snapshot.kind)
    prefix = f"{translate(lang, msgid)}: " if msgid else ""
    if snapshot.exercise:
        prefix = f"{translate(lang, EXERCISE_MSGID)} – {prefix}"
    return prefix


def area_description(snapshot: NoticeSnapshot, lang: str | None) -> str:
    """The area's name in ``lang`` (falling back to Swedish, then the zone slugs)."""
    return snapshot.area_text(lang) or ", ".join(snapshot.zones) or snapshot.sender_name


def short_local_time(moment: datetime | None, lang: str | None) -> str:
    """A time as people in Sweden say it: ``24 nov 09:00`` ("nu"/"now" for None)."""
    _ = translations(lang).gettext
    if moment is None:
        return _("now")
    local = to_local(moment)
    month = translate(lang, MONTH_ABBREVIATION_MSGIDS[local.month - 1])
    return f"{local.day} {month} {local:%H:%M}"


#: The times a revision promises, as every channel words them ("Nästa besked senast 14:00").
PROMISE_MSGIDS = {
    "next_update": N_("Next update by %(time)s"),
    "expected_restoration": N_("Expected restoration %(time)s"),
}


def clock_time(moment: datetime, lang: str | None, *, reference: datetime | None) -> str:
    """``14:00`` when ``moment`` falls on the same Swedish day as ``reference``, else
    ``25 nov 14:00`` (:func:`short_local_time`)."""
    if reference is not None and to_local(moment).date() == to_local(reference).date():
        return f"{to_local(moment):%H:%M}"
    return short_local_time(moment, lang)


def promises(snapshot: NoticeSnapshot, lang: str | None) -> list[str]:
    """The revision's promised times in ``lang``, each a short sentence without a full stop:
    ``["Nästa besked senast 14:00", "Beräknat klart 16:00"]`` (empty when it promises none;
    an all-clear promises nothing)."""
    if snapshot.kind == "Cancel":
        return []
    found = []
    for name, msgid in PROMISE_MSGIDS.items():
        moment = getattr(snapshot, name)
        if moment is not None:
            when = clock_time(moment, lang, reference=snapshot.sent)
            found.append(translate(lang, msgid) % {"time": when})
    return found
