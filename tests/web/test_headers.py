"""Security headers on every kind of response, HTTPS-only behaviour, trusted proxies."""

from __future__ import annotations

from flask import request

from tests.conftest import running_app


def test_console_and_login_refuse_framing_and_inline_code(client):
    response = client.get("/console/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_public_pages_may_be_framed_by_us_and_the_banner_by_anyone(client):
    page = client.get("/")
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    banner = client.get("/banner")
    assert "frame-ancestors *" in banner.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in banner.headers


def test_every_kind_of_response_says_nosniff(client):
    for path in ("/api/v1/zones", "/banner.js", "/feeds/notices.atom", "/healthz", "/nope"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert "Referrer-Policy" in response.headers, path


def test_trace_is_refused_saying_what_is_allowed(client):
    response = client.open("/", method="TRACE")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "TRACE" not in response.headers["Allow"]


def test_plain_http_installation_sends_no_hsts_and_no_secure_cookie(client):
    response = client.get("/?lang=en")
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers["Set-Cookie"]


def test_https_installation_sends_hsts_and_secure_session_cookies(database_url, tmp_path):
    with running_app(database_url, tmp_path, VARSLA_BASE_URL="https://varsla.motala.se") as app:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        response = app.test_client().get("/console/login")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_client_address_comes_from_trusted_proxies_only(database_url, tmp_path):
    def whoami() -> str:
        return request.remote_addr or "?"

    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    with running_app(database_url, tmp_path) as app:
        app.add_url_rule("/whoami", view_func=whoami)
        assert app.test_client().get("/whoami", headers=forwarded).text == "127.0.0.1"
    with running_app(database_url, tmp_path, VARSLA_TRUSTED_PROXIES=1) as app:
        app.add_url_rule("/whoami", view_func=whoami)
        assert app.test_client().get("/whoami", headers=forwarded).text == "203.0.113.7"
        spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        assert app.test_client().get("/whoami", headers=spoofed).text == "203.0.113.7"
