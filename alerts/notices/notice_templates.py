"""Ready wording, in Swedish and English, for the notices utilities send most.

Placeholders: ``{place}`` (the area's name, from the zones when not given),
``{start}`` and ``{end}`` (onset and expiry in Swedish local time), ``{phone}``
(the utility's customer service), ``{road}`` for road closures.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from alerts.errors import ValidationFailed
from alerts.i18n import N_
from channels.labels import short_local_time


@dataclass(frozen=True)
class NoticeTemplate:
    key: str
    category: str
    severity: str
    urgency: str
    certainty: str
    texts: dict[str, dict[str, str]]


TEMPLATES: dict[str, NoticeTemplate] = {
    t.key: t
    for t in [
        NoticeTemplate(
            "boil_water",
            "water",
            "Severe",
            "Immediate",
            "Observed",
            {
                "sv": {
                    "headline": "Koka vattnet i {place}",
                    "description": "Vattnet i {place} kan innehålla bakterier. Kokningsrekommendationen "
                    "gäller tills vidare från {start}.",
                    "instruction": "Koka vatten som du dricker eller lagar mat med i minst en minut. "
                    "Vatten för dusch och tvätt behöver inte kokas.",
                },
                "en": {
                    "headline": "Boil water in {place}",
                    "description": "The tap water in {place} may contain bacteria. The advice applies "
                    "from {start} until further notice.",
                    "instruction": "Boil water for drinking and cooking for at least one minute. "
                    "Water for showering and washing need not be boiled.",
                },
            },
        ),
        NoticeTemplate(
            "planned_water_outage",
            "water",
            "Minor",
            "Expected",
            "Observed",
            {
                "sv": {
                    "headline": "Planerat vattenavbrott i {place} {start}–{end}",
                    "description": "På grund av ledningsarbete stängs vattnet av i {place} "
                    "från {start} till {end}.",
                    "instruction": "Tappa upp vatten i förväg. Håll kranarna stängda under avbrottet.",
                },
                "en": {
                    "headline": "Planned water outage in {place} {start}–{end}",
                    "description": "Because of pipe work the water is turned off in {place} "
                    "from {start} to {end}.",
                    "instruction": "Store some water beforehand. Keep taps closed during the outage.",
                },
            },
        ),
        NoticeTemplate(
            "unplanned_water_outage",
            "water",
            "Moderate",
            "Immediate",
            "Observed",
            {
                "sv": {
                    "headline": "Vattenläcka: inget vatten i {place}",
                    "description": "En vattenläcka gör att vattnet är avstängt i {place} sedan {start}. "
                    "Vi arbetar med att laga läckan.",
                    "instruction": "Håll kranarna stängda. Vattnet kan vara missfärgat när det kommer "
                    "tillbaka; spola tills det är klart.",
                },
                "en": {
                    "headline": "Water leak: no water in {place}",
                    "description": "A burst main has cut the water in {place} since {start}. "
                    "We are repairing it.",
                    "instruction": "Keep taps closed. The water may be discoloured when it returns; "
                    "run it until it is clear.",
                },
            },
        ),
        NoticeTemplate(
            "all_clear",
            "water",
            "Minor",
            "Past",
            "Observed",
            {
                "sv": {
                    "headline": "Faran över i {place}",
                    "description": "Det tidigare meddelandet för {place} gäller inte längre.",
                    "instruction": "Du kan använda vattnet som vanligt igen.",
                },
                "en": {
                    "headline": "All clear in {place}",
                    "description": "The earlier notice for {place} no longer applies.",
                    "instruction": "You can use the water as usual again.",
                },
            },
        ),
        NoticeTemplate(
            "district_heating_outage",
            "district_heating",
            "Moderate",
            "Expected",
            "Observed",
            {
                "sv": {
                    "headline": "Fjärrvärmeavbrott i {place} {start}–{end}",
                    "description": "Fjärrvärmen stängs av i {place} från {start} till {end}.",
                    "instruction": "Stäng fönster och dörrar för att behålla värmen. "
                    "Varmvattnet kan bli kallt.",
                },
                "en": {
                    "headline": "District heating outage in {place} {start}–{end}",
                    "description": "District heating is turned off in {place} from {start} to {end}.",
                    "instruction": "Keep windows and doors closed to keep the heat in. "
                    "Hot water may run cold.",
                },
            },
        ),
        NoticeTemplate(
            "road_closure",
            "roads",
            "Minor",
            "Expected",
            "Observed",
            {
                "sv": {
                    "headline": "Avstängd väg: {road} i {place}",
                    "description": "{road} i {place} är avstängd från {start} till {end}.",
                    "instruction": "Följ skyltad omledning.",
                },
                "en": {
                    "headline": "Road closed: {road} in {place}",
                    "description": "{road} in {place} is closed from {start} to {end}.",
                    "instruction": "Follow the signed diversion.",
                },
            },
        ),
    ]
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def fill_template(
    key: str,
    *,
    place: str,
    onset: datetime | None,
    expires: datetime | None,
    values: dict[str, str] | None = None,
) -> tuple[NoticeTemplate, dict[str, dict[str, str]]]:
    """The template ``key`` and its texts with the placeholders filled in, per language."""
    template = TEMPLATES.get(key)
    if template is None:
        raise ValidationFailed.on(
            "template", N_("okänd mall; kända: %(known)s"), known=", ".join(TEMPLATES)
        )
    texts: dict[str, dict[str, str]] = {}
    for language, fields in template.texts.items():
        # A value the operator typed (``place`` too) wins over the one derived from the area.
        mapping = _Blank(
            {
                "place": place,
                "start": short_local_time(onset, language),
                "end": short_local_time(expires, language),
                **(values or {}),
            }
        )
        texts[language] = {
            name: string.Formatter().vformat(text, (), mapping).strip()
            for name, text in fields.items()
        }
    return template, texts
