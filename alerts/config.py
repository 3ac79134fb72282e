"""Configuration from environment variables, each with a safe default."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def load_config(instance_path: str | Path) -> dict[str, Any]:
    """Read the ``VARSLA_*`` and ``TWILIO_*`` variables into a Flask config mapping."""
    instance = Path(instance_path)
    default_db = f"sqlite:///{instance / 'varsla.sqlite3'}"
    secret = os.environ.get("VARSLA_SECRET_KEY") or _instance_secret(instance)
    return {
        "SECRET_KEY": secret,
        "VARSLA_DATABASE_URL": os.environ.get("VARSLA_DATABASE_URL") or default_db,
        "VARSLA_BASE_URL": (os.environ.get("VARSLA_BASE_URL") or "http://127.0.0.1:5000").rstrip(
            "/"
        ),
        "VARSLA_SMTP_URL": os.environ.get("VARSLA_SMTP_URL", ""),
        "VARSLA_MAIL_FROM": os.environ.get("VARSLA_MAIL_FROM", "Varsla <varsla@localhost>"),
        "VARSLA_DKIM_SELECTOR": os.environ.get("VARSLA_DKIM_SELECTOR", ""),
        "VARSLA_DKIM_DOMAIN": os.environ.get("VARSLA_DKIM_DOMAIN", ""),
        "VARSLA_DKIM_KEY_FILE": os.environ.get("VARSLA_DKIM_KEY_FILE", ""),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_FROM": os.environ.get("TWILIO_FROM", ""),
        "TWILIO_MESSAGING_SERVICE_SID": os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "VARSLA_TWILIO_API_URL": os.environ.get("VARSLA_TWILIO_API_URL", ""),
        "VARSLA_SMS_RATE": _float("VARSLA_SMS_RATE", 50.0),
        "VARSLA_EMAIL_RATE": _float("VARSLA_EMAIL_RATE", 20.0),
        "VARSLA_MAX_ATTEMPTS": int(_float("VARSLA_MAX_ATTEMPTS", 6)),
        "VARSLA_RETRY_BASE_S": _float("VARSLA_RETRY_BASE_S", 10.0),
        "VARSLA_RETRY_MAX_S": _float("VARSLA_RETRY_MAX_S", 900.0),
        "VARSLA_LEASE_S": _float("VARSLA_LEASE_S", 120.0),
        "VARSLA_TWILIO_TIMEOUT_S": _float("VARSLA_TWILIO_TIMEOUT_S", 10.0),
        # An online Nominatim-compatible geocoder asked when the register has no match. Off
        # by default: it sends residents' addresses to a third party.
        "VARSLA_GEOCODER_URL": os.environ.get("VARSLA_GEOCODER_URL", ""),
        "VARSLA_GEOCODER_USER_AGENT": os.environ.get("VARSLA_GEOCODER_USER_AGENT", "Varsla"),
        "VARSLA_SENDER_NAME": os.environ.get("VARSLA_SENDER_NAME", "Varsla"),
        "VARSLA_FEED_RETENTION_DAYS": _float("VARSLA_FEED_RETENTION_DAYS", 7.0),
        # Deliveries (who was sent what) and local-outbox copies, after a notice ended;
        # 0 keeps them. Match the municipality's records-management decision.
        "VARSLA_DELIVERY_RETENTION_DAYS": _float("VARSLA_DELIVERY_RETENTION_DAYS", 365.0),
        "VARSLA_TILE_URL": os.environ.get(
            "VARSLA_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        ),
        "VARSLA_SCHEDULER_INTERVAL_S": _float("VARSLA_SCHEDULER_INTERVAL_S", 10.0),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "BABEL_DEFAULT_LOCALE": "sv",
        "JSON_SORT_KEYS": False,
    }


def _instance_secret(instance: Path) -> str:
    """A random secret kept in the instance folder, so sessions survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
