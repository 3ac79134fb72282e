"""Words for the values people read: statuses, severities, categories, roles, templates.

The one home of these labels for the console and the public pages. Keys are the
values stored and spoken by the API (``pending_approval``, ``Severe``,
``boil_water``); the labels are lazy msgids (Swedish), translated when shown.
Nothing here imports a feature: the keys are the features' enum values, which
compare and hash as their strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import LazyString, get_locale, gettext, lazy_gettext, lazy_pgettext

from alerts.errors import DomainError, FieldError
from channels.labels import CATEGORY_MSGIDS, SEVERITY_MSGIDS, category_label, severity_label


def _language() -> str:
    return str(get_locale() or "sv")


NOTICE_STATUS: dict[str, LazyString] = {
    "draft": lazy_gettext("Utkast"),
    "pending_approval": lazy_gettext("Väntar på godkännande"),
    "approved": lazy_gettext("Godkänt"),
    "scheduled": lazy_gettext("Schemalagt"),
    "active": lazy_gettext("Aktivt"),
    # "Avblåst" alone is the public all-clear marker; a withdrawn draft is cancelled too.
    "cancelled": lazy_pgettext("meddelandets status", "Avblåst"),
    "expired": lazy_gettext("Upphört"),
}

REVISION_STATE: dict[str, LazyString] = {
    "draft": lazy_gettext("Utkast"),
    "pending_approval": lazy_gettext("Väntar på godkännande"),
    "approved": lazy_gettext("Godkänt"),
    "published": lazy_gettext("Publicerad"),
    "rejected": lazy_gettext("Avslagen"),
    "withdrawn": lazy_gettext("Tillbakadragen"),
}

# CAP msgType of a revision.
MSG_TYPE: dict[str, LazyString] = {
    "Alert": lazy_gettext("Första meddelandet"),
    "Update": lazy_gettext("Uppdatering"),
    "Cancel": lazy_gettext("Avblåsning"),
}

# Severities and categories are worded where feeds, CAP, SMS and email word them
# (channels.labels), so a page never calls a notice something its SMS does not.
SEVERITY: dict[str, LazyString] = {
    key: LazyString(lambda key=key: severity_label(key, _language())) for key in SEVERITY_MSGIDS
}

URGENCY: dict[str, LazyString] = {
    "Immediate": lazy_gettext("Omedelbart"),
    "Expected": lazy_gettext("Inom kort"),
    "Future": lazy_gettext("Längre fram"),
    "Past": lazy_gettext("Redan över"),
    "Unknown": lazy_gettext("Okänd brådska"),
}

CERTAINTY: dict[str, LazyString] = {
    "Observed": lazy_gettext("Konstaterat"),
    "Likely": lazy_gettext("Troligt"),
    "Possible": lazy_gettext("Möjligt"),
    "Unlikely": lazy_gettext("Osannolikt"),
    "Unknown": lazy_gettext("Okänd säkerhet"),
}

CATEGORY: dict[str, LazyString] = {
    key: LazyString(lambda key=key: category_label(key, _language())) for key in CATEGORY_MSGIDS
}

CHANNEL: dict[str, LazyString] = {
    "sms": lazy_gettext("SMS"),
    "email": lazy_gettext("E-post"),
    "feed": lazy_gettext("Flöden"),
    "banner": lazy_gettext("Banner"),
}

LANGUAGE: dict[str, LazyString] = {
    "sv": lazy_gettext("Svenska"),
    "en": lazy_gettext("Engelska"),
}

# In the order the console's delivery table shows them.
DELIVERY_STATUS: dict[str, LazyString] = {
    "pending": lazy_gettext("Väntar"),
    "sending": lazy_gettext("Skickas"),
    "accepted": lazy_gettext("Lämnat till operatören"),
    "sent": lazy_gettext("Skickat"),
    "delivered": lazy_gettext("Levererat"),
    "undelivered": lazy_gettext("Ej levererat"),
    "failed": lazy_gettext("Misslyckades"),
    "dropped": lazy_gettext("Stoppat"),
    "opted_out": lazy_gettext("Avregistrerad"),
}

# What became of a message telling an approver that a revision waits (console notice page).
APPROVAL_MESSAGE_STATUS: dict[str, LazyString] = {
    "pending": lazy_gettext("Väntar, försöker igen"),
    "sending": lazy_gettext("Skickas"),
    "accepted": lazy_gettext("Skickat"),
    "sent": lazy_gettext("Skickat"),
    "delivered": lazy_gettext("Levererat"),
    "undelivered": lazy_gettext("Ej levererat"),
    "failed": lazy_gettext("Misslyckades"),
    "outbox": lazy_gettext("I den lokala utkorgen, inte skickat"),
    "dropped": lazy_gettext("Inte skickat, väntar inte längre"),
}

ROLE: dict[str, LazyString] = {
    "author": lazy_gettext("Författare"),
    "approver": lazy_gettext("Godkännare"),
    "admin": lazy_gettext("Administratör"),
}

TEMPLATE: dict[str, LazyString] = {
    "boil_water": lazy_gettext("Koka vattnet"),
    "planned_water_outage": lazy_gettext("Planerat vattenavbrott"),
    "unplanned_water_outage": lazy_gettext("Oplanerat vattenavbrott"),
    "all_clear": lazy_gettext("Faran över"),
    "district_heating_outage": lazy_gettext("Avbrott i fjärrvärmen"),
    "road_closure": lazy_gettext("Avstängd väg"),
}

# Audit trail actions (alerts.notices.audit.record).
AUDIT_ACTION: dict[str, LazyString] = {
    "create": lazy_gettext("Skapade utkast"),
    "edit": lazy_gettext("Ändrade utkast"),
    "submit": lazy_gettext("Skickade för godkännande"),
    "approve": lazy_gettext("Godkände"),
    "reject": lazy_gettext("Avslog"),
    "return_to_draft": lazy_gettext("Tog tillbaka till utkast"),
    "publish": lazy_gettext("Publicerade"),
    "emergency_publish": lazy_gettext("Publicerade utan godkännande (nödläge)"),
    "publish_all_clear": lazy_gettext("Publicerade avblåsning"),
    "emergency_all_clear": lazy_gettext("Publicerade avblåsning utan godkännande (nödläge)"),
    "propose_update": lazy_gettext("Föreslog uppdatering"),
    "propose_all_clear": lazy_gettext("Föreslog avblåsning"),
    "withdraw": lazy_gettext("Drog tillbaka"),
    "withdraw_update": lazy_gettext("Drog tillbaka väntande revision"),
    "activate": lazy_gettext("Blev aktivt (schemalagd tid)"),
    "expire": lazy_gettext("Upphörde"),
    "zones_upload": lazy_gettext("Laddade upp zoner för granskning"),
    "zones_import": lazy_gettext("Sparade uppladdade zoner"),
    "zone_rename": lazy_gettext("Bytte namn på en zon"),
    "exercise_sent": lazy_gettext("Skickade som övning till testgruppen"),
}

# The verbs of lifecycle actions in domain errors ("Cannot approve a notice that is ...").
# Keys are what alerts.notices.operations passes as ``action``.
ACTION: dict[str, LazyString] = {
    "submit": lazy_gettext("skicka för godkännande"),
    "approve": lazy_gettext("godkänna"),
    "reject": lazy_gettext("avslå"),
    "return to draft": lazy_gettext("ta tillbaka till utkast"),
    "publish": lazy_gettext("publicera"),
    "publish the all-clear for": lazy_gettext("publicera avblåsningen av"),
    "cancel": lazy_gettext("avblåsa"),
    "withdraw": lazy_gettext("dra tillbaka"),
    "update": lazy_gettext("uppdatera"),
}

# A zone's kind: free text from its import (``--kind``); these are the ones Varsla names.
ZONE_KIND: dict[str, LazyString] = {
    "municipality": lazy_gettext("Kommun"),
    "zone": lazy_gettext("Zon"),
    "water_supply": lazy_gettext("Vattenförsörjningsområde"),
}

TABLES: dict[str, Mapping[str, LazyString]] = {
    "notice_status": NOTICE_STATUS,
    "revision_state": REVISION_STATE,
    "msg_type": MSG_TYPE,
    "severity": SEVERITY,
    "urgency": URGENCY,
    "certainty": CERTAINTY,
    "category": CATEGORY,
    "channel": CHANNEL,
    "language": LANGUAGE,
    "delivery_status": DELIVERY_STATUS,
    "approval_message_status": APPROVAL_MESSAGE_STATUS,
    "role": ROLE,
    "template": TEMPLATE,
    "audit_action": AUDIT_ACTION,
    "action": ACTION,
    "zone_kind": ZONE_KIND,
}

# A domain error's parameters that name values, and the table that words them.
ERROR_PARAMETERS = {
    "status": NOTICE_STATUS,
    "state": REVISION_STATE,
    "action": ACTION,
    "role": ROLE,
}


def label(kind: str, value: Any) -> str:
    """``label("notice_status", "pending_approval")`` -> "Väntar på godkännande" (or English).

    An unknown value is shown as it is, never hidden.
    """
    if value is None:
        return ""
    found = TABLES[kind].get(str(value))
    return str(found) if found is not None else str(value)


def _word(name: str, value: Any) -> Any:
    if name in ERROR_PARAMETERS:
        return label_in(ERROR_PARAMETERS[name], value)
    if name == "roles":
        either = gettext("eller")
        return f" {either} ".join(label_in(ROLE, role) for role in value)
    return value


def label_in(table: Mapping[str, LazyString], value: Any) -> str:
    found = table.get(str(value))
    return str(found) if found is not None else str(value)


def error_message(exc: DomainError) -> str:
    """The error's message in the reader's language, naming values in words."""
    return _localised(exc.message, exc.params)


def field_message(error: FieldError) -> str:
    """One field's message in the reader's language."""
    return _localised(error.message, error.params)


def _localised(message: str, params: Mapping[str, Any]) -> str:
    text = gettext(message)  # a msgid; a message from elsewhere (pydantic) stays as it is
    if not params:
        return text
    return text % {name: _word(name, value) for name, value in params.items()}


def choices(kind: str, keys: Iterable[str] | None = None) -> list[tuple[str, LazyString]]:
    """``(value, label)`` pairs for a select field, labels translated when rendered."""
    table = TABLES[kind]
    return [(key, table[key]) for key in (keys if keys is not None else table)]
