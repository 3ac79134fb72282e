"""Domain errors. Services raise these; one handler turns them into HTTP problems."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error a user can cause. ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(DomainError):
    status = 422
    title = "Invalid input"

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class NotFound(DomainError):
    status = 404
    title = "Not found"


class InvalidTransition(DomainError):
    status = 409
    title = "Not allowed in this state"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class TwoPersonRule(Forbidden):
    title = "Two-person rule"


class MalformedRequest(ValidationFailed):
    status = 400
    title = "Malformed request"
