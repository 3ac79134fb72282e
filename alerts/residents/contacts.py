"""A resident's contact details as typed into a form: checked, normalised, or refused
with a problem naming the field.

Phone numbers are parsed with ``phonenumbers`` (Swedish national form by
default: ``070-174 06 05``) and must be mobile numbers of an allowed country
(``VARSLA_SMS_COUNTRIES``); emails are checked with ``email-validator``, which
accepts internationalised addresses (``åsa@bergkarlås.se``) and, here, does
no DNS lookup.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from phonenumbers import NumberParseException, PhoneNumberType

from alerts.errors import ValidationFailed

DEFAULT_REGION = "SE"
_SMS_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def mobile_number(text: str, countries: tuple[str, ...], field: str = "phone") -> str:
    """``text`` as an E.164 mobile number of one of ``countries``; else ValidationFailed."""
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        raise ValidationFailed.on(field, _("Det här är inget telefonnummer.")) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed.on(
            field, _("Numret är inte giltigt. Skriv det som 070-123 45 67 eller +46 70 123 45 67.")
        )
    region = phonenumbers.region_code_for_number(number)
    if region not in countries:
        raise ValidationFailed.on(
            field,
            _(
                "Vi skickar bara sms till mobilnummer i %(countries)s.",
                countries=", ".join(countries),
            ),
        )
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise ValidationFailed.on(
            field, _("Det här är inget mobilnummer, så det kan inte ta emot sms.")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(text: str, field: str = "email") -> str:
    """``text`` as a normalised email address (internationalised accepted); else ValidationFailed."""
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValidationFailed.on(
            field, _("Det här är ingen e-postadress. Skriv den som namn@exempel.se.")
        ) from None
    return checked.normalized.lower()


def display_phone(e164: str) -> str:
    """A stored number as people read it (``070-174 06 05`` for Swedish numbers)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == DEFAULT_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
