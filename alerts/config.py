"""Configuration: one typed :class:`Settings`, its defaults written once, here.

Values come from environment variables (``VARSLA_*``, ``TWILIO_*``) and, for
tests and embedding, from the mapping given to ``create_app``; both end up in
the Flask config under the variable's name. ``create_app`` then validates them
into a frozen :class:`Settings`, which code reads through :func:`settings`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from flask import Flask, current_app
from pydantic import BaseModel, ConfigDict, Field

#: Flask's own keys that are ours to set, with the values Varsla wants.
FLASK_DEFAULTS: dict[str, Any] = {
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "BABEL_DEFAULT_LOCALE": "sv",
    "JSON_SORT_KEYS": False,
}


class Settings(BaseModel):
    """Every setting of an installation; each field is read from the variable in its alias."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    secret_key: str = Field(alias="SECRET_KEY")
    database_url: str = Field(alias="VARSLA_DATABASE_URL")
    base_url: str = Field("http://127.0.0.1:5000", alias="VARSLA_BASE_URL")
    smtp_url: str = Field("", alias="VARSLA_SMTP_URL")
    mail_from: str = Field("Varsla <varsla@localhost>", alias="VARSLA_MAIL_FROM")
    dkim_selector: str = Field("", alias="VARSLA_DKIM_SELECTOR")
    dkim_domain: str = Field("", alias="VARSLA_DKIM_DOMAIN")
    dkim_key_file: str = Field("", alias="VARSLA_DKIM_KEY_FILE")
    twilio_account_sid: str = Field("", alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str = Field("", alias="TWILIO_AUTH_TOKEN")
    twilio_from: str = Field("", alias="TWILIO_FROM")
    twilio_messaging_service_sid: str = Field("", alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_api_url: str = Field("", alias="VARSLA_TWILIO_API_URL")
    twilio_timeout_s: float = Field(10.0, gt=0, alias="VARSLA_TWILIO_TIMEOUT_S")
    # Messages per second for the whole installation; 0 = unlimited.
    sms_rate: float = Field(50.0, ge=0, alias="VARSLA_SMS_RATE")
    email_rate: float = Field(20.0, ge=0, alias="VARSLA_EMAIL_RATE")
    max_attempts: int = Field(6, ge=1, alias="VARSLA_MAX_ATTEMPTS")
    retry_base_s: float = Field(10.0, ge=0, alias="VARSLA_RETRY_BASE_S")
    retry_max_s: float = Field(900.0, ge=0, alias="VARSLA_RETRY_MAX_S")
    lease_s: float = Field(120.0, gt=0, alias="VARSLA_LEASE_S")
    # Sends in flight per dispatcher process (asyncio tasks, not threads): at 100 ms a
    # provider answer, 200 in flight is up to 2,000 messages a second.
    send_concurrency: int = Field(200, ge=1, le=5000, alias="VARSLA_SEND_CONCURRENCY")
    # SMTP connections per dispatcher process, each carrying one message at a time and
    # reused from message to message.
    smtp_connections: int = Field(8, ge=1, le=100, alias="VARSLA_SMTP_CONNECTIONS")
    # An online Nominatim-compatible geocoder asked when the register has no match. Off
    # by default: it sends residents' addresses to a third party.
    geocoder_url: str = Field("", alias="VARSLA_GEOCODER_URL")
    geocoder_user_agent: str = Field("Varsla", alias="VARSLA_GEOCODER_USER_AGENT")
    sender_name: str = Field("Varsla", alias="VARSLA_SENDER_NAME")
    feed_retention_days: float = Field(7.0, ge=0, alias="VARSLA_FEED_RETENTION_DAYS")
    public_version_ttl_ms: int = Field(1000, ge=0, alias="VARSLA_PUBLIC_VERSION_TTL_MS")
    # Deliveries (who was sent what) and local-outbox copies, after a notice ended; 0 keeps
    # them. Match the municipality's records-management decision.
    delivery_retention_days: float = Field(365.0, ge=0, alias="VARSLA_DELIVERY_RETENTION_DAYS")
    # Price of one SMS part, in the currency the console shows (SEK), for cost estimates.
    sms_price: float = Field(0.5, ge=0, alias="VARSLA_SMS_PRICE")
    tile_url: str = Field("https://tile.openstreetmap.org/{z}/{x}/{y}.png", alias="VARSLA_TILE_URL")
    tile_attribution: str = Field("© OpenStreetMap contributors", alias="VARSLA_TILE_ATTRIBUTION")
    scheduler_interval_s: float = Field(10.0, gt=0, alias="VARSLA_SCHEDULER_INTERVAL_S")
    # Request bodies above this are refused (413) before they are read: a notice with a
    # drawn area of thousands of points is a few hundred kB.
    max_body_bytes: int = Field(2_000_000, ge=10_000, alias="VARSLA_MAX_BODY_BYTES")
    # Reverse proxies in front (nginx, a load balancer): how many X-Forwarded-* hops to
    # believe. 0 trusts none, so a client cannot choose the address it is throttled by.
    trusted_proxies: int = Field(0, ge=0, le=5, alias="VARSLA_TRUSTED_PROXIES")
    # Argon2id cost: "strong" (RFC 9106 low-memory profile) always, but in test suites.
    password_hash_cost: Literal["strong", "test"] = Field(
        "strong", alias="VARSLA_PASSWORD_HASH_COST"
    )
    # Admins must use a TOTP second factor: one without it is sent to enrol after the password.
    require_totp: bool = Field(False, alias="VARSLA_REQUIRE_TOTP")
    # Bearer token for /metrics; without one, /metrics answers only direct loopback requests.
    metrics_token: str = Field("", alias="VARSLA_METRICS_TOKEN")
    # "text" (for people) or "json" (one object per line, for a log pipeline).
    log_format: Literal["text", "json"] = Field("text", alias="VARSLA_LOG_FORMAT")
    # Who runs this installation: shown on the privacy page, in HELP replies and emails.
    org_name: str = Field("Kommunen", alias="VARSLA_ORG_NAME")
    org_contact: str = Field("", alias="VARSLA_ORG_CONTACT")
    # Countries (ISO 3166 codes, comma-separated) whose mobile numbers may sign up.
    sms_countries: str = Field("SE", alias="VARSLA_SMS_COUNTRIES")
    # Verification messages (codes, links) per hour for the whole installation: a ceiling
    # on what SMS pumping could cost.
    verify_budget: int = Field(500, ge=0, alias="VARSLA_VERIFY_BUDGET")

    @property
    def sms_country_codes(self) -> tuple[str, ...]:
        """The allowed countries, upper case (``("SE", "NO")``)."""
        return tuple(c.strip().upper() for c in self.sms_countries.split(",") if c.strip())

    @property
    def sms_configured(self) -> bool:
        """Twilio credentials and a sender are set; otherwise SMS go to the local outbox."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from or self.twilio_messaging_service_sid)
        )

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_url)


#: Environment variables the settings read, from the aliases (one list, no second copy).
#: The secret key is the exception: its variable is ``VARSLA_SECRET_KEY``.
VARIABLES = tuple(
    field.alias
    for field in Settings.model_fields.values()
    if field.alias and field.alias != "SECRET_KEY"
)


def load_config(instance_path: str | Path) -> dict[str, Any]:
    """The Flask config from the environment: the variables that are set, and the two
    defaults that depend on the instance folder (the SQLite file and the secret key)."""
    instance = Path(instance_path)
    config: dict[str, Any] = dict(FLASK_DEFAULTS)
    config.update(
        {name: os.environ[name] for name in VARIABLES if os.environ.get(name, "").strip()}
    )
    config.setdefault("VARSLA_DATABASE_URL", f"sqlite:///{instance / 'varsla.sqlite3'}")
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = os.environ.get("VARSLA_SECRET_KEY") or _instance_secret(instance)
    return config


def init_app(app: Flask) -> Settings:
    """Validate the app's config into its :class:`Settings` (a bad value stops the start)."""
    values = Settings.model_validate(dict(app.config))
    values = values.model_copy(update={"base_url": values.base_url.rstrip("/")})
    app.config["VARSLA_BASE_URL"] = values.base_url
    app.config["MAX_CONTENT_LENGTH"] = values.max_body_bytes
    app.extensions["varsla_settings"] = values
    return values


def settings(app: Flask | None = None) -> Settings:
    """The settings of ``app``, or of the current app."""
    target = app if app is not None else current_app
    return target.extensions["varsla_settings"]


def _instance_secret(instance: Path) -> str:
    """A random secret kept in the instance folder, so sessions survive restarts.

    Created readable by the owner only from its first byte (no window in which
    another user could read it), and never overwritten by a second process."""
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = instance / "secret_key"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
