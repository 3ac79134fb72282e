"""The one-click unsubscribe page speaks the reader's language; a GET alone changes nothing."""

from __future__ import annotations

from alerts.dispatch.messages import unsubscribe_token


def test_the_unsubscribe_page_in_swedish_and_english(app, client):
    token = unsubscribe_token(app.config["SECRET_KEY"], 12345, "email")
    swedish = client.get(f"/u/{token}").get_data(as_text=True)
    assert '<html lang="sv">' in swedish
    assert "Avsluta prenumerationen" in swedish and "Avsluta e-post" in swedish
    assert "lang=en" in swedish and 'lang="en"' in swedish  # a link to the English page
    english = client.get(f"/u/{token}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Stop alerts by email" in english and "Avsluta" not in english
    done = client.post(f"/u/{token}?lang=en").get_data(as_text=True)
    assert "You are unsubscribed" in done and "no more alerts by email" in done
    sms = unsubscribe_token(app.config["SECRET_KEY"], 12345, "sms")
    assert "Du får inga fler varningar med sms." in client.post(f"/u/{sms}?lang=sv").get_data(
        as_text=True
    )
