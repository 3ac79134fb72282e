"""Domain errors. Services raise these; one handler turns them into HTTP responses.

A message is a msgid (Swedish, marked with ``N_``) and its ``%(name)s``
parameters, kept apart so that each reader gets it in their language:

- ``detail`` is English with values as the API names them (``pending_approval``):
  the JSON API's problem details and logs use it; the CLI uses ``in_language``;
- the console shows it in the reader's language with values in words
  (``alerts.web.labels.error_message``). Parameters named ``status`` (a notice
  status), ``state`` (a revision state), ``action`` (a lifecycle verb), ``role``
  and ``roles`` are worded there; any other is shown as it is.

A message that is not in the catalogue (a pydantic message, a place's name) is
shown as it is, in both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.i18n import N_, translate


@dataclass
class FieldError:
    field: str
    message: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def detail(self) -> str:
        """The message in English (the JSON API's ``errors[].message``)."""
        return translate("en", self.message, **plain(self.params))


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the API names them: enum values as their strings, lists joined."""
    return {
        name: " or ".join(str(v) for v in value) if isinstance(value, list | tuple) else value
        for name, value in params.items()
    }


class DomainError(Exception):
    """Base of every error a user can cause. ``status`` is the HTTP status it maps to."""

    status = 400
    title = N_("Felaktig begäran")

    def __init__(
        self, message: str, *, errors: list[FieldError] | None = None, **params: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        self.errors = errors or []
        self.field: str | None = None

    @property
    def detail(self) -> str:
        """The message in English, for the JSON API and logs."""
        return self.in_language("en")

    def in_language(self, language: str) -> str:
        """The message in ``language`` (``sv``/``en``), values as the API names them."""
        text = translate(language, self.message, **plain(self.params))
        return f"{self.field}: {text}" if self.field else text

    def __str__(self) -> str:
        return self.detail


class ValidationFailed(DomainError):
    status = 422
    title = N_("Ogiltiga uppgifter")

    @classmethod
    def on(cls, field: str, message: str, **params: Any) -> ValidationFailed:
        """The error of one field: ``ValidationFailed.on("expires", N_("måste ..."))``."""
        error = cls(message, errors=[FieldError(field, message, params)], **params)
        error.field = field
        return error


class NotFound(DomainError):
    status = 404
    title = N_("Hittades inte")


class InvalidTransition(DomainError):
    status = 409
    title = N_("Inte tillåtet i det här läget")


class Forbidden(DomainError):
    status = 403
    title = N_("Inte behörig")


class TwoPersonRule(Forbidden):
    title = N_("Tvåpersonsregeln")


class MalformedRequest(ValidationFailed):
    status = 400
    title = N_("Felaktig begäran")
