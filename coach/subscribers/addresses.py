"""Addresses people give us: email addresses and phone numbers in E.164."""

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# What people write inside a phone number; anything else (an "x", ";ext=", letters) would be
# dropped silently by the parser and two different inputs would become one number.
PHONE_CHARACTERS = re.compile(r"\+?[0-9 ()./-]{4,30}")


class BadAddress(ValueError):
    pass


def normalize_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise BadAddress(f"{value!r} is not a valid email address: {error}") from None


def normalize_phone(value: str) -> str:
    hint = "give it in international format, like +447911123456"
    if not PHONE_CHARACTERS.fullmatch(value.strip()):
        raise BadAddress(f"{value!r} is not a phone number we can read: use only digits, "
                         f"spaces and a leading +, no extension; {hint}")
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        raise BadAddress(f"{value!r} is not a phone number we can read; {hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise BadAddress(f"{value!r} is not a valid phone number; {hint}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def channel_and_address(value: str) -> tuple[str, str]:
    """Tell an email address from a phone number, and normalize it."""
    if "@" in value:
        return "email", normalize_email(value)
    return "sms", normalize_phone(value)
