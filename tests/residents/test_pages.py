"""The resident's pages without a browser: forms, their errors linked to the fields, the manage
page's changes, the unsubscribe page in the public layout, both languages."""

from __future__ import annotations

import re

import lxml.html
import pytest
from sqlalchemy import select

from alerts.models import Subscriber
from tests.residents.conftest import COTTAGE, HOME, code_from, sms_to

PHONE = "+46701740605"


def tree_of(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def signed_up(client, fake_twilio, **form) -> str:
    """Sign up through the page and type the code; answers the manage page's path."""
    data = {"address": HOME, "phone": "070-174 06 05", "language": "sv", **form}
    response = client.post("/subscribe", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    active = client.post(response.headers["Location"], data={"code": code_from(fake_twilio, PHONE)})
    assert "Din prenumeration är aktiv" in active.get_data(as_text=True)
    link = tree_of(active).xpath("//a[contains(@href, '/subscriptions/')]/@href")[0]
    return link.removeprefix("http://varsla.test")


def test_the_form_has_labels_and_the_page_the_public_layout(register, client):
    response = client.get("/subscribe")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    tree = tree_of(response)
    assert tree.xpath("string(//h1)") == "Få varningar för din adress"
    for field in ("address", "phone", "email"):
        assert tree.xpath(f"//label[@for='{field}']"), field
    assert tree.xpath("//input[@id='address']/@role") == ["combobox"]
    assert len(tree.xpath("//input[@name='categories'][@checked]")) == 7  # all by default
    assert tree.xpath("//nav//a[@hreflang='en']")  # the language switch of the layout
    assert tree.xpath("//script[not(@src)]") == []  # no inline script


def test_errors_are_listed_and_linked_to_their_fields(register, client, fake_twilio):
    response = client.post("/subscribe", data={"address": HOME, "phone": "08-123 456 78"})
    assert response.status_code == 422
    tree = tree_of(response)
    assert tree.xpath("//div[@id='error-summary']//a/@href") == ["#phone"]
    assert tree.xpath("//input[@id='phone']/@aria-describedby") == ["phone-hint phone-error"]
    assert tree.xpath("//input[@id='phone']/@aria-invalid") == ["true"]
    assert "inget mobilnummer" in tree.xpath("string(//p[@id='phone-error'])")
    assert tree.xpath("//input[@id='address']/@value") == [HOME]  # nothing typed is lost
    assert fake_twilio.messages == []


def test_every_field_at_fault_is_named_at_once_in_the_pages_order(register, client, fake_twilio):
    """A resident with a misspelt address, a landline and half an email heard of the
    landline only, and of the next mistake after correcting it."""
    form = {"address": "Gesundavägen 55", "phone": "08-123 456 78", "email": "anna@"}
    response = client.post("/subscribe", data=form)
    assert response.status_code == 422
    tree = tree_of(response)
    links = tree.xpath("//div[@id='error-summary']//a/@href")
    assert links == ["#address", "#phone", "#email"]
    for name in ("address", "phone", "email"):
        assert tree.xpath(f"//input[@id='{name}']/@aria-invalid") == ["true"], name
    assert "inget mobilnummer" in tree.xpath("string(//p[@id='phone-error'])")
    assert "ingen e-postadress" in tree.xpath("string(//p[@id='email-error'])")
    assert "Gesundavägen 5, 792 90 Sollerön" in _suggested(tree)
    assert fake_twilio.messages == []


def test_the_api_names_every_field_at_fault_and_the_first_as_before(register, client):
    answer = client.post(
        "/api/v1/subscriptions",
        json={"address": "Gesundavägen 55", "phone": "08-123 456 78", "email": "anna@"},
    )
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["field"] == "phone"
    assert [e["field"] for e in problem["errors"]] == ["phone", "email", "address"]
    assert "Gesundavägen 5, 792 90 Sollerön" in [s["label"] for s in problem["suggestions"]]


def test_no_category_ticked_is_refused_with_none_ticked_again(register, client, fake_twilio):
    """ "Choose at least one kind" stood above seven ticked boxes: the page ticked them all."""
    form = {"address": HOME, "phone": PHONE, "categories_shown": "1"}
    tree = tree_of(client.post("/subscribe", data=form))
    assert tree.xpath("//div[@id='error-summary']//a/@href") == ["#categories"]
    assert tree.xpath("//input[@name='categories'][@checked]") == []
    some = {**form, "email": "anna@", "categories": ["water", "roads"]}
    tree = tree_of(client.post("/subscribe", data=some))
    assert tree.xpath("//input[@name='categories'][@checked]/@value") == ["water", "roads"]
    assert fake_twilio.messages == []


def test_an_unknown_address_shows_the_closest_ones(register, client):
    response = client.post("/subscribe", data={"address": "Gesundavägen 55", "phone": PHONE})
    assert response.status_code == 422
    tree = tree_of(response)
    assert "Gesundavägen 5, 792 90 Sollerön" in _suggested(tree)
    assert tree.xpath("//input[@id='address']/@aria-describedby") == ["address-hint address-error"]


def _suggested(tree) -> dict[str, str]:
    """The suggested addresses a resident can pick: label -> the radio button's value."""
    return {
        tree.xpath(f"string(//label[@for='{radio.get('id')}'])"): radio.get("value")
        for radio in tree.xpath("//fieldset[@class='suggestions']//input[@type='radio']")
    }


def test_a_misspelt_address_is_mended_by_picking_a_suggestion(register, client, db_session):
    """The resident picks the address they meant instead of typing it again; what else they
    typed stays, and the sign-up is for the address picked."""
    form = {"address": "Gesundavägen 55", "phone": PHONE, "email": "anna@example.se"}
    tree = tree_of(client.post("/subscribe", data=form))
    picked = _suggested(tree)["Gesundavägen 5, 792 90 Sollerön"]
    assert tree.xpath("//input[@id='phone']/@value") == [PHONE]
    done = client.post("/subscribe", data={**form, "address_choice": picked})
    assert done.status_code == 303
    db_session.expire_all()
    (subscriber,) = db_session.scalars(select(Subscriber)).all()
    assert [loc.address_id for loc in subscriber.locations] == [int(picked)]
    assert subscriber.email == "anna@example.se"


def test_the_english_page_is_english(register, client):
    tree = tree_of(client.get("/subscribe?lang=en"))
    assert tree.get("lang") == "en"
    assert tree.xpath("string(//h1)") == "Get alerts for your address"
    assert tree.xpath("string(//button[@type='submit'])") == "Sign me up"
    assert "Drinking water" in tree.xpath("string(//fieldset[@id='categories'])")


def test_the_page_says_when_to_try_again_over_the_limit(register, client, fake_twilio):
    for _ in range(5):
        client.post("/subscribe", data={"address": HOME, "phone": PHONE})
    response = client.post("/subscribe", data={"address": HOME, "phone": PHONE})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Du kan be om en ny kod om" in response.get_data(as_text=True)
    assert len(sms_to(fake_twilio, PHONE)) == 5


def test_a_wrong_code_on_the_page_is_explained_and_a_new_code_can_be_sent(
    register, client, fake_twilio
):
    response = client.post("/subscribe", data={"address": HOME, "phone": PHONE})
    verify_page = response.headers["Location"]
    first = code_from(fake_twilio, PHONE)
    wrong = client.post(verify_page, data={"code": "000000" if first != "000000" else "111111"})
    assert wrong.status_code == 422
    assert tree_of(wrong).xpath("//input[@id='code']/@aria-describedby") == ["code-hint code-error"]
    resent = client.post(verify_page + "/resend")
    assert "Vi har skickat en ny kod" in resent.get_data(as_text=True)
    assert len(sms_to(fake_twilio, PHONE)) == 2
    assert client.post(verify_page, data={"code": first}).status_code == 422  # the old one
    assert client.post(verify_page, data={"code": code_from(fake_twilio, PHONE)}).status_code == 200


def test_the_manage_page_changes_what_arrives(register, client, db_session, fake_twilio):
    manage = signed_up(client, fake_twilio)
    page = client.get(manage)
    assert page.status_code == 200 and "noindex" in page.get_data(as_text=True)

    saved = client.post(
        manage + "/preferences",
        data={"sms": "on", "language": "en", "categories": ["water", "electricity"],
              "paused_until": "2099-06-30"},
    )  # fmt: skip
    assert saved.status_code == 303
    db_session.expire_all()
    subscriber = db_session.scalars(select(Subscriber)).one()
    assert subscriber.language == "en"
    assert subscriber.category_names == ["water", "electricity"]
    assert subscriber.paused_until.year == 2099
    assert "Paused until and including 2099-06-30" in client.get(manage + "?lang=en").get_data(
        as_text=True
    )

    none = client.post(manage + "/preferences", data={"sms": "on", "language": "sv"})
    assert none.status_code == 422
    assert tree_of(none).xpath("//div[@id='error-summary']//a/@href") == ["#categories"]

    added = client.post(manage + "/addresses", data={"address": COTTAGE})
    assert added.status_code == 303
    labels = tree_of(client.get(manage)).xpath("//ul[@class='address-list']/li/span/text()")
    assert labels == [HOME, COTTAGE]
    again = client.post(manage + "/addresses", data={"address": COTTAGE})
    assert again.status_code == 422  # the page is in English now (the lang cookie)
    assert "You already have that address" in again.get_data(as_text=True)

    db_session.expire_all()
    cottage = next(
        loc
        for loc in db_session.scalars(select(Subscriber)).one().locations
        if loc.label == COTTAGE
    )
    assert client.post(f"{manage}/addresses/{cottage.id}/remove").status_code == 303
    db_session.expire_all()
    home_id = db_session.scalars(select(Subscriber)).one().locations[0].id
    last = client.post(f"{manage}/addresses/{home_id}/remove")
    assert last.status_code == 422  # the last address stays

    client.post(manage + "/preferences", data={"language": "sv", "categories": ["water"]})
    db_session.expire_all()
    assert db_session.scalars(select(Subscriber)).one().sms_opted_out_at is not None


def test_a_refused_save_on_the_manage_page_keeps_the_choices_made(register, client, fake_twilio):
    """A past pause date was refused, and the page came back with the stored choices: the
    categories unticked, the language and the date typed were gone."""
    manage = signed_up(client, fake_twilio)
    refused = client.post(
        manage + "/preferences",
        data={"language": "en", "categories": ["water", "electricity"],
              "paused_until": "2020-01-01"},
    )  # fmt: skip
    assert refused.status_code == 422
    tree = tree_of(refused)
    assert tree.xpath("//input[@name='categories'][@checked]/@value") == ["water", "electricity"]
    assert tree.xpath("//input[@name='language'][@checked]/@value") == ["en"]
    assert tree.xpath("//input[@id='paused_until']/@value") == ["2020-01-01"]
    assert tree.xpath("//input[@id='channel-sms'][@checked]") == []  # unticked stays unticked
    assert tree.xpath("//input[@id='paused_until']/@aria-invalid") == ["true"]
    fresh = tree_of(client.get(manage))  # nothing was saved: the stored choices again
    assert len(fresh.xpath("//input[@name='categories'][@checked]")) == 7
    assert fresh.xpath("//input[@id='channel-sms'][@checked]")


def test_a_new_link_revokes_the_old_ones(register, client, fake_twilio):
    manage = signed_up(client, fake_twilio)
    fake_twilio.clear()
    response = client.post(manage + "/revoke")
    assert response.status_code == 200
    assert client.get(manage).status_code == 404
    [sms] = [m.body for m in fake_twilio.messages]
    new = re.search(r"http://varsla.test(/subscriptions/\S+)", sms).group(1)
    assert new != manage and client.get(new).status_code == 200


def test_a_forged_manage_link_is_not_found(register, client):
    assert client.get("/subscriptions/WzEsIDFd.forged").status_code == 404
    assert client.post("/subscriptions/WzEsIDFd.forged/delete").status_code == 404


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_unsubscribe_page_uses_the_public_layout_in_one_language(
    dispatch_app, register, client, db_session, fake_twilio, lang
):
    from alerts.dispatch.messages import unsubscribe_token

    manage = signed_up(client, fake_twilio)
    subscriber = db_session.scalars(select(Subscriber)).one()
    path = f"/u/{unsubscribe_token('test-secret', subscriber.id, 'sms')}"
    page = client.get(f"{path}?lang={lang}")
    tree = tree_of(page)
    assert tree.get("lang") == lang
    assert tree.xpath("//header[@class='site']//nav")  # the public layout
    assert (
        tree.xpath("string(//h1)") == {"sv": "Avsluta prenumerationen", "en": "Unsubscribe"}[lang]
    )
    db_session.expire_all()
    assert (
        db_session.get(Subscriber, subscriber.id).sms_opted_out_at is None
    )  # a GET changes nothing
    done = client.post(f"{path}?lang={lang}")
    assert done.status_code == 200
    db_session.expire_all()
    assert db_session.get(Subscriber, subscriber.id).sms_opted_out_at is not None
    assert client.get(manage).status_code == 200


def test_asking_for_a_link_answers_the_same_for_known_and_unknown(register, client, fake_twilio):
    signed_up(client, fake_twilio)
    fake_twilio.clear()
    known = client.post("/subscriptions/link", data={"contact": "070-174 06 05"})
    unknown = client.post("/subscriptions/link", data={"contact": "nobody@example.se"})
    assert known.status_code == unknown.status_code == 200
    text = "Om uppgiften finns hos oss har vi skickat en länk dit."
    assert text in known.get_data(as_text=True) and text in unknown.get_data(as_text=True)
    assert [m.to for m in fake_twilio.messages] == [PHONE]


@pytest.mark.parametrize("chosen", ["9" * 30, "9" * 5000, "0"])
def test_an_address_id_no_address_can_have_is_an_unknown_address(
    register, client, db_session, chosen
):
    """A forged hidden id past the column's range, or of thousands of digits, is an address
    not in the register, never a database error."""
    for name in ("address_id", "address_choice"):
        answer = client.post("/subscribe", data={"address": HOME, name: chosen, "phone": PHONE})
        assert answer.status_code == 422, name
        assert "Adressen finns inte i adressregistret" in answer.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalars(select(Subscriber)).all() == []


@pytest.mark.parametrize("chosen", ["12abc", "\u0661\u0662", " "])
def test_an_address_id_that_is_no_number_leaves_the_typed_address_to_decide(
    register, client, db_session, chosen
):
    answer = client.post("/subscribe", data={"address": HOME, "address_id": chosen, "phone": PHONE})
    assert answer.status_code == 303
    db_session.expire_all()
    assert len(db_session.scalars(select(Subscriber)).all()) == 1
