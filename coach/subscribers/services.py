"""Signing up: what a person gave us, normalised and checked; finding a person by address.

Recording them and starting their programme is scheduling's (``coach.scheduling.enrol``)."""

import re
from dataclasses import dataclass
from datetime import time
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.programmes.qualities import check_quality
from coach.subscribers.addresses import channel_and_address, normalize_email, normalize_phone
from coach.subscribers.clock import LocalClock
from coach.subscribers.models import Subscriber

LOCAL_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
LANGUAGES = ("en", "es")
COUNTRY = re.compile(r"[A-Z]{2}")


class SubscribeError(ValueError):
    pass


@dataclass(frozen=True)
class SignUp:
    focus: str
    timezone: str
    email: str | None = None
    phone: str | None = None
    name: str = ""
    send_time: str = "18:00"
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    source: str = "signup"
    discreet: bool = False  # lock-screen previews and subjects that do not reveal the topic
    language: str = "en"  # how replies are read and system messages written
    country: str | None = None  # for the helplines; else their phone number's country


class CheckedSignUp(NamedTuple):
    """A sign-up's addresses normalised, its focus a known quality, its clock valid."""

    email: str | None
    phone: str | None
    quality: str
    clock: LocalClock


def find_by_address(session: Session, address: str) -> Subscriber | None:
    channel, normalized = channel_and_address(address)
    column = Subscriber.email if channel == "email" else Subscriber.phone
    return session.scalars(select(Subscriber).where(column == normalized)).first()


def check_sign_up(form: SignUp) -> CheckedSignUp:
    """Normalise and check what a person gave us. Raises SubscribeError, saying what to fix."""
    try:
        email = normalize_email(form.email) if form.email else None
        phone = normalize_phone(form.phone) if form.phone else None
        quality = check_quality(form.focus)
    except ValueError as error:
        raise SubscribeError(str(error)) from None
    if any("\x00" in (value or "") for value in (form.name, form.email, form.phone)):
        raise SubscribeError("the form contains a NUL character; remove it and try again")
    if not email and not phone:
        raise SubscribeError("give an email address or a phone number (or both)")
    clock = _clock(form)
    _check_language_and_country(form)
    return CheckedSignUp(email, phone, quality, clock)


def _clock(form: SignUp) -> LocalClock:
    return check_clock(form.timezone, form.send_time, form.quiet_start, form.quiet_end)


def check_clock(timezone: str, send_time: str, quiet_start: str, quiet_end: str) -> LocalClock:
    """A person's clock from what they typed. Raises SubscribeError, saying what to fix."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscribeError(f"unknown time zone {timezone!r}; use an IANA name like "
                             "Europe/London or America/New_York") from None
    quiet = _time(quiet_start, "quiet hours start"), _time(quiet_end, "quiet hours end")
    if quiet[0] == quiet[1]:
        raise SubscribeError(f"quiet hours {quiet_start}-{quiet_end} start and end "
                             "at the same time; give a span like 21:00-08:00")
    return LocalClock(timezone, _time(send_time, "send time"), *quiet)


def _check_language_and_country(form: SignUp) -> None:
    if form.language not in LANGUAGES:
        raise SubscribeError(f"language {form.language!r} is not one coach speaks; use one of "
                             f"{', '.join(LANGUAGES)}")
    if form.country is not None and not COUNTRY.fullmatch(form.country):
        raise SubscribeError(f"country {form.country!r} is not a two-letter ISO code; use one "
                             "like GB, US or ES")


def _time(value: str, what: str) -> time:
    """A local wall-clock time, HH:MM: the zone is the subscriber's, so no offset is taken."""
    if not LOCAL_TIME.fullmatch(value.strip()):
        raise SubscribeError(f"{what} {value!r} is not a local time; use 24-hour HH:MM like "
                             "18:30 (the time zone is given on its own)")
    return time.fromisoformat(value.strip())
