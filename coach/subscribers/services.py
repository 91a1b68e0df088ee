"""Subscribing: validate what a person gave us, record consent, start their programme."""

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from coach.events.services import record
from coach.programmes.qualities import check_quality, quality_name
from coach.programmes.services import version_for_quality
from coach.scheduling.clock import LocalClock, next_allowed_time
from coach.scheduling.models import COMPLETED, STOPPED, Enrolment
from coach.subscribers.addresses import channel_and_address, normalize_email, normalize_phone
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


def find_by_address(session: Session, address: str) -> Subscriber | None:
    channel, normalized = channel_and_address(address)
    column = Subscriber.email if channel == "email" else Subscriber.phone
    return session.scalars(select(Subscriber).where(column == normalized)).first()


def current_enrolment(session: Session, subscriber_id: int) -> Enrolment | None:
    return session.scalars(
        select(Enrolment).where(Enrolment.subscriber_id == subscriber_id)
        .order_by(Enrolment.id.desc()).limit(1)
    ).first()


def subscribe(session: Session, form: SignUp, now: datetime) -> tuple[Subscriber, Enrolment]:
    """Create (or reuse) the subscriber and start a programme. Raises SubscribeError."""
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
    version = version_for_quality(session, quality)
    if version is None:
        raise SubscribeError(f"no programme for {quality_name(quality)} is published yet; "
                             "run: coach programmes publish")
    existing = _existing(session, email, phone)
    if existing is not None:
        _refuse_second_programme(session, existing)
    subscriber = _subscriber(session, existing, email, phone, form, clock, now)
    enrolment = Enrolment(
        subscriber_id=subscriber.id, version_id=version.id, quality=quality, answers={},
        next_due_at=next_allowed_time(clock, [], now), started_at=now, updated_at=now,
    )
    session.add(enrolment)
    session.flush()
    record(session, subscriber.id, now, "decision", "enrol",
           f"started {version.programme.title} (version {version.number}); the welcome goes "
           f"at their next preferred time", enrolment.id,
           next_due_at=enrolment.next_due_at.isoformat() if enrolment.next_due_at else None)
    return subscriber, enrolment


def _clock(form: SignUp) -> LocalClock:
    try:
        ZoneInfo(form.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscribeError(f"unknown time zone {form.timezone!r}; use an IANA name like "
                             "Europe/London or America/New_York") from None
    quiet = _time(form.quiet_start, "quiet hours start"), _time(form.quiet_end, "quiet hours end")
    if quiet[0] == quiet[1]:
        raise SubscribeError(f"quiet hours {form.quiet_start}-{form.quiet_end} start and end "
                             "at the same time; give a span like 21:00-08:00")
    return LocalClock(form.timezone, _time(form.send_time, "send time"), *quiet)


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


def _existing(session: Session, email: str | None, phone: str | None) -> Subscriber | None:
    matches = list(session.scalars(select(Subscriber).where(or_(
        Subscriber.email == email if email else false(),
        Subscriber.phone == phone if phone else false(),
    ))))
    if len(matches) > 1:
        raise SubscribeError("that email address and phone number belong to two different "
                             "subscribers; subscribe with one of them")
    return matches[0] if matches else None


def _subscriber(session: Session, existing: Subscriber | None, email: str | None,
                phone: str | None, form: SignUp, clock: LocalClock, now: datetime) -> Subscriber:
    subscriber = existing or Subscriber(recent_sends=[], created_at=now)
    subscriber.email = email or subscriber.email
    subscriber.phone = phone or subscriber.phone
    subscriber.name = form.name.strip()[:100] or subscriber.name or ""
    subscriber.timezone = clock.timezone
    subscriber.send_time, subscriber.quiet_start, subscriber.quiet_end = (
        clock.send_time, clock.quiet_start, clock.quiet_end)
    subscriber.preferred_channel = "sms" if phone else "email"
    subscriber.discreet = form.discreet or subscriber.discreet
    subscriber.language = form.language
    subscriber.country = form.country or subscriber.country
    session.add(subscriber)
    session.flush()
    for channel, given in (("email", email), ("sms", phone)):
        if given:
            subscriber.set_consent(channel, True, now, form.source)
            record(session, subscriber.id, now, "consent", f"{channel}-opt-in",
                   f"agreed to {channel} messages ({form.source})")
    return subscriber


def _refuse_second_programme(session: Session, subscriber: Subscriber) -> None:
    current = current_enrolment(session, subscriber.id)
    if current is not None and current.state not in (COMPLETED, STOPPED):
        raise SubscribeError(
            f"already working on {quality_name(current.quality)}; one quality at a time. "
            "Finish it first, or reply STOP to end it."
        )
