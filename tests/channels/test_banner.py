"""The banner: the JSON behind /api/v1/active, the iframe HTML and banner.js itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from datetime import timedelta

import lxml.html
import pytest

from channels.banner import (
    PALETTE,
    active_json,
    active_payload,
    banner_js,
    render_banner_html,
)
from channels.base import NoticeText
from tests.channels.snapshots import HOSTILE_HEADLINE, cancel, make_snapshot, revise

BASE_URL = "https://varsla.example"


def notice(severity: str, *, minutes: int = 0, **overrides):
    snapshot = make_snapshot(notice_id=uuid.uuid4(), severity=severity, **overrides)
    return revise(snapshot, after=timedelta(minutes=minutes)) if minutes else snapshot


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_payload_lists_most_severe_first_then_newest_and_ended_last():
    minor = notice("Minor", minutes=90)
    severe_old = notice("Severe")
    severe_new = notice("Severe", minutes=30)
    extreme = notice("Extreme")
    all_clear = cancel(notice("Extreme"))
    payload = active_payload(
        [minor, all_clear, severe_old, extreme, severe_new], "sv", base_url=BASE_URL
    )
    assert [item["id"] for item in payload["items"]] == [
        str(s.notice_id) for s in (extreme, severe_new, severe_old, minor, all_clear)
    ]
    assert payload["next"] is None
    assert payload["alert"] is True


def test_payload_item_has_what_the_banner_shows():
    snapshot = make_snapshot(url="/notices/abc")
    (item,) = active_payload([snapshot], "en", base_url=BASE_URL)["items"]
    assert item == {
        "id": str(snapshot.notice_id),
        "revision": 1,
        "lang": "en",
        "headline": "Boil water in Gesunda",
        "instruction": "Boil water for at least one minute before drinking it.",
        "severity": "Severe",
        "severity_label": "Severe",
        "category": "water",
        "category_label": "Drinking water",
        "url": "https://varsla.example/notices/abc",
        "updated": "2026-11-24T07:15:00+00:00",
        "ended": False,
        "status": "active",
        "status_label": "",
    }
    (swedish,) = active_payload([cancel(snapshot)], "sv", base_url=BASE_URL)["items"]
    assert swedish["severity_label"] == "Allvarligt"
    assert swedish["ended"] is True
    assert swedish["status_label"] == "Avblåst"


def test_payload_falls_back_to_swedish_text():
    swedish_only = make_snapshot(texts={"sv": NoticeText(headline="Koka vattnet")})
    (item,) = active_payload([swedish_only], "en", base_url=BASE_URL)["items"]
    assert item["headline"] == "Koka vattnet"
    assert item["lang"] == "sv"
    assert item["severity_label"] == "Severe"  # the chrome stays in the reader's language


def test_javascript_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        active_payload([make_snapshot(url="javascript:alert(1)")], "sv", base_url=BASE_URL)


def test_script_in_headline_is_plain_text_in_json():
    hostile = make_snapshot(
        texts={"sv": NoticeText(headline=HOSTILE_HEADLINE, instruction=HOSTILE_HEADLINE)}
    )
    body = active_json([hostile], "sv", base_url=BASE_URL)
    assert b"<" not in body and b">" not in body
    (item,) = json.loads(body)["items"]
    assert item["headline"] == HOSTILE_HEADLINE
    assert item["instruction"] == HOSTILE_HEADLINE


def test_script_in_headline_is_escaped_in_banner_html():
    hostile = make_snapshot(
        texts={"sv": NoticeText(headline=HOSTILE_HEADLINE, instruction=HOSTILE_HEADLINE)}
    )
    page = render_banner_html([hostile], "sv", base_url=BASE_URL)
    document = lxml.html.document_fromstring(page)
    assert not document.xpath("//script|//img")
    assert document.xpath("string(//a[@class='headline'])") == HOSTILE_HEADLINE
    assert document.xpath("string(//p[@class='instruction'])") == HOSTILE_HEADLINE


def test_banner_html_is_an_alert_region_for_severe_notices():
    page = render_banner_html([notice("Minor"), notice("Severe")], "sv", base_url=BASE_URL)
    document = lxml.html.document_fromstring(page)
    assert document.get("lang") == "sv"
    (region,) = document.xpath("//section")
    assert region.get("role") == "alert"
    labels = [span.text_content() for span in document.xpath("//span[@class='label']")]
    assert labels == ["Allvarligt", "Information"]  # severity as text, not colour alone
    assert document.xpath("//a/@href")[0].startswith(BASE_URL + "/notices/")
    assert all(a.get("rel") == "noopener noreferrer" for a in document.xpath("//a"))


def test_banner_html_is_polite_without_severe_notices_and_says_when_empty():
    page = render_banner_html([notice("Moderate")], "en", base_url=BASE_URL)
    (region,) = lxml.html.document_fromstring(page).xpath("//section")
    assert region.get("role") is None
    assert region.get("aria-live") == "polite"
    empty = lxml.html.document_fromstring(render_banner_html([], "en", base_url=BASE_URL))
    assert empty.xpath("string(//p[@class='empty'])") == "No current notices."


def test_an_all_clear_does_not_make_the_banner_an_alert():
    page = render_banner_html([cancel(notice("Extreme"))], "sv", base_url=BASE_URL)
    (region,) = lxml.html.document_fromstring(page).xpath("//section")
    assert region.get("aria-live") == "polite"
    label = lxml.html.document_fromstring(page).xpath("string(//span[@class='label'])")
    assert label == "Avblåst · Mycket allvarligt"


def test_every_colour_pair_has_contrast_of_at_least_4_5():
    for key, (background, text) in PALETTE.items():
        assert contrast_ratio(background, text) >= 4.5, key
    script = banner_js().decode()
    pairs = re.findall(r'(\w+): \["(#[0-9a-f]{6})", "(#[0-9a-f]{6})"\]', script)
    assert {key: (bg, fg) for key, bg, fg in pairs} == PALETTE  # JS uses the same colours


def test_banner_js_is_packaged_and_follows_the_embedding_rules():
    script = banner_js().decode("ascii")  # ASCII: right whatever charset it is served with
    assert 'credentials: "omit"' in script
    assert "attachShadow" in script
    assert "/api/v1/active?" in script
    assert "document.currentScript" in script and 'script[src*="banner.js"]' in script
    assert "sessionStorage" in script
    assert '"St\\u00e4ng"' in script and '"Dismiss"' in script
    assert 'createElement("button")' in script
    assert "60000" in script and "visibilitychange" in script
    assert '"role", "alert"' in script and '"aria-live", "polite"' in script
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "document.cookie",
        "eval(",
    ):
        assert forbidden not in script, forbidden


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_banner_js_is_valid_javascript(tmp_path):
    path = tmp_path / "banner.js"
    path.write_bytes(banner_js())
    subprocess.run(["node", "--check", str(path)], check=True, capture_output=True)
