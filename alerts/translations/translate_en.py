"""Fill the English catalogue from messages.pot (msgids are the Swedish text).

Run from alerts/: ``../.venv/bin/python translations/translate_en.py`` after
``pybabel extract`` (see babel.cfg); it writes en/LC_MESSAGES/messages.po and
compiles messages.mo. An untranslated message fails loudly.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).parent

EN = {
    "Zooma in": "Zoom in",
    "Zooma ut": "Zoom out",
    "Läs mer": "Read more",
    "Område": "Area",
    "Uppdaterad": "Updated",
    "Tillgänglighetsredogörelse": "Accessibility statement",
    "Arkiv": "Archive",
    "Sök bland alla meddelanden": "Search all notices",
    "Sök": "Search",
    "%(n)s meddelanden matchar ”%(q)s”.": "%(n)s notices match “%(q)s”.",
    "%(n)s meddelanden.": "%(n)s notices.",
    "Sidor": "Pages",
    "Föregående": "Previous",
    "Sida %(page)s av %(pages)s": "Page %(page)s of %(pages)s",
    "Nästa": "Next",
    "Aktuella störningar": "Current notices",
    "Här visas pågående störningar i vatten, avlopp, fjärrvärme, el, vägar och "
    "avfallshämtning, och vad du behöver göra.": "Current disruptions to drinking water, "
    "wastewater, district heating, electricity, roads and waste collection, and what you "
    "need to do.",
    "Pågående": "Ongoing",
    "Kartan visar områdena för de pågående störningarna. Områdena står också i texten "
    "ovan.": "The map shows the areas of the ongoing disruptions. The areas are also named "
    "in the text above.",
    "Inga pågående störningar just nu.": "No ongoing disruptions right now.",
    "Nyligen avslutade": "Recently ended",
    "Få varningar som sms eller e-post": "Get alerts by text message or email",
    "Anmäl din adress så skickar vi ett meddelande när något händer där du bor.": (
        "Register your address and we will send you a message when something happens "
        "where you live."
    ),
    "Prenumerera": "Subscribe",
    "Vill du få varningar för din adress som sms eller e-post? Kontakta kommunens "
    "kundtjänst så lägger de till dig.": "Would you like alerts for your address by text "
    "message or email? Contact the municipality's customer service and they will add you.",
    "Flöden och banner för webbplatser": "Feeds and a banner for websites",
    "Nyhetssajter och andra webbplatser kan hämta störningarna som flöden eller visa dem "
    "i en banner.": "News sites and other websites can fetch the notices as feeds or show "
    "them in a banner.",
    "Banner för ett område:": "Banner for one area:",
    "Aktuella störningar (Atom)": "Current notices (Atom)",
    "Aktuella störningar (RSS)": "Current notices (RSS)",
    "Huvudmeny": "Main menu",
    "Aktuellt": "Current",
    "Tillgänglighet": "Accessibility",
    "RSS-flöde": "RSS feed",
    "Atom-flöde": "Atom feed",
    "CAP-meddelanden": "CAP messages",
    "Störningen är över: meddelandet har upphört.": "The disruption is over: the notice "
    "has expired.",
    "Faran är över: meddelandet är avblåst.": "All clear: the notice has been called off.",
    "Det här ska du göra": "What you should do",
    "Från": "From",
    "Till": "Until",
    "Senast uppdaterad": "Last updated",
    "Karta": "Map",
    "Det markerade området på kartan är": "The area marked on the map is",
    "Händelser": "Timeline",
    "Avblåst": "All clear",
    "Publicerad": "Published",
    "CAP-meddelande, version %(n)s": "CAP message, version %(n)s",
}


def main() -> None:
    with (HERE / "messages.pot").open("rb") as handle:
        catalog = read_po(handle, locale="en")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        translated = EN.get(message.id)
        if translated is None:
            missing.append(message.id)
        message.string = translated or ""
    if missing:
        raise SystemExit("untranslated: " + "; ".join(missing))
    target = HERE / "en" / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    with (target / "messages.po").open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)


if __name__ == "__main__":
    main()
