"""Signed links for residents: the manage link and the email verification link.

A manage token names a subscriber and the ``manage_version`` it was issued
under; raising the subscriber's version (asking for a new link, or "sign out
everywhere") makes every older link fail. An email verification token names
the subscriber and the address it was sent to, and expires.

No database, no Flask: the dispatcher puts a manage link in every email footer.
"""

from __future__ import annotations

import functools

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

_MANAGE_SALT = "varsla-manage"
_VERIFY_EMAIL_SALT = "varsla-verify-email"

#: How long the link in a verification email works: as long as an unverified sign-up lives.
EMAIL_LINK_MAX_AGE_S = 24 * 3600


@functools.lru_cache(maxsize=8)
def _manage_serializer(secret: str) -> URLSafeSerializer:
    # One per secret: every email's footer carries a manage link.
    return URLSafeSerializer(secret, salt=_MANAGE_SALT)


def manage_token(secret: str, subscriber_id: int, version: int) -> str:
    """The token of ``/subscriptions/<token>`` for a subscriber at its current version."""
    return _manage_serializer(secret).dumps([subscriber_id, version])


def read_manage_token(secret: str, token: str) -> tuple[int, int] | None:
    """(subscriber id, version), or None for a forged or malformed token."""
    try:
        value = _manage_serializer(secret).loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return None
    return value[0], value[1]


def email_token(secret: str, subscriber_id: int, email: str) -> str:
    """The token in a verification email's link (expires after a day)."""
    return URLSafeTimedSerializer(secret, salt=_VERIFY_EMAIL_SALT).dumps([subscriber_id, email])


class ExpiredLink(Exception):
    """The link was genuine but is too old."""


def read_email_token(
    secret: str, token: str, max_age_s: int = EMAIL_LINK_MAX_AGE_S
) -> tuple[int, str] | None:
    """(subscriber id, email) of a genuine, fresh token; None when forged; raises
    :class:`ExpiredLink` when it expired."""
    try:
        value = URLSafeTimedSerializer(secret, salt=_VERIFY_EMAIL_SALT).loads(
            token, max_age=max_age_s
        )
    except SignatureExpired:
        raise ExpiredLink from None
    except BadSignature:
        return None
    if not isinstance(value, list) or len(value) != 2:
        return None
    subscriber_id, email = value
    if not isinstance(subscriber_id, int) or not isinstance(email, str):
        return None
    return subscriber_id, email


_PENDING_SALT = "varsla-pending-signup"


def pending_token(secret: str, subscriber_id: int) -> str:
    """The token of the page where a new sign-up types its SMS code (no contact in the URL)."""
    return URLSafeTimedSerializer(secret, salt=_PENDING_SALT).dumps(subscriber_id)


def read_pending_token(
    secret: str, token: str, max_age_s: int = EMAIL_LINK_MAX_AGE_S
) -> int | None:
    try:
        value = URLSafeTimedSerializer(secret, salt=_PENDING_SALT).loads(token, max_age=max_age_s)
    except BadSignature:  # SignatureExpired included
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
