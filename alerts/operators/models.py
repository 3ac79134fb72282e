"""Operators (utility and municipal staff), their API keys and login attempts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.orm import Base, EnumText, utcnow


class Role(enum.StrEnum):
    AUTHOR = "author"
    APPROVER = "approver"
    ADMIN = "admin"


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(EnumText(Role, 20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped by a new password or deactivation: console sessions opened before then end.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # E.164; approvers with one are told by SMS that a revision waits for them.
    phone: Mapped[str | None] = mapped_column(String(20))
    # TOTP second factor (RFC 6238): the base32 secret, set at enrolment and in force once a
    # code has confirmed it; the last time step used, so a code works only once.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="operator")

    def can(self, *roles: Role) -> bool:
        """True when the operator holds one of ``roles``; admins hold them all."""
        return self.active and (self.role == Role.ADMIN or self.role in roles)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None and self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"<Operator {self.email} {self.role}>"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    # The first characters of the key, kept in clear so a key can be found and named.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    operator: Mapped[Operator] = relationship(back_populates="api_keys")


class LoginAttempt(Base):
    """Failed logins, counted per email and per client address to slow guessing."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)
