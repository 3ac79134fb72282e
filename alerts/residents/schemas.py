"""The residents' JSON API shapes: pydantic models that validate requests, shape answers
and write the OpenAPI document (one source for all three)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import FieldError, ValidationFailed

Language = Literal["sv", "en"]
CategoryName = Literal[
    "water", "wastewater", "district_heating", "electricity", "roads", "waste", "other"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubscriptionIn(Strict):
    """A sign-up: an address (text, or ``address_id`` from ``/addresses``) and a contact."""

    address: str | None = Field(None, max_length=300, examples=["Storgatan 8, 591 30 Motala"])
    address_id: int | None = None
    phone: str | None = Field(None, max_length=40, examples=["070-174 06 05"])
    email: str | None = Field(None, max_length=320, examples=["anna@example.se"])
    language: Language = "sv"
    categories: list[CategoryName] | None = Field(
        None, description="the notice categories wanted; omitted: all"
    )

    @model_validator(mode="after")
    def _something_to_reach(self) -> SubscriptionIn:
        if not (self.address or self.address_id is not None):
            raise ValueError("address: give address or address_id")
        if not (self.phone or self.email):
            raise ValueError("phone: give phone, email or both")
        return self


class VerifyIn(Strict):
    phone: str = Field(max_length=40)
    code: str = Field(max_length=20)


class ManageLinkIn(Strict):
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)

    @model_validator(mode="after")
    def _one_contact(self) -> ManageLinkIn:
        if bool(self.phone) == bool(self.email):
            raise ValueError("phone: give phone or email")
        return self


class VerificationOut(BaseModel):
    sms: Literal["sent"] | None
    email: Literal["sent"] | None


class SubscriptionOut(BaseModel):
    id: int
    status: Literal["pending_verification", "active"]
    verification: VerificationOut


class VerifiedOut(BaseModel):
    id: int
    status: Literal["active"]
    manage_url: str = Field(description="the resident's manage page")
    addresses: list[str]
    categories: list[CategoryName]
    language: Language


class ManageLinkOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


def parse(model: type[Strict], payload: Any) -> Any:
    """Validate ``payload``; every problem becomes a FieldError naming its field."""
    if not isinstance(payload, dict):
        raise ValidationFailed.on("body", "a JSON object is required")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            if not loc and ": " in message:
                loc, message = message.split(": ", 1)
            if err["type"] == "extra_forbidden":
                message = "unknown field"
            elif err["type"] == "missing":
                message = "is required"
            errors.append(FieldError(loc or "body", message))
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None
