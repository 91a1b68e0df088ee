"""Enrolling: a checked sign-up becomes a subscriber (new, or the same person again) with
their consent recorded, and an enrolment whose welcome goes at their next preferred time."""

from datetime import datetime

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from coach.events.services import record
from coach.programmes.models import ProgrammeVersion
from coach.programmes.qualities import quality_name
from coach.programmes.services import version_for_quality
from coach.scheduling.models import COMPLETED, STOPPED, Enrolment
from coach.subscribers.clock import LocalClock, next_allowed_time
from coach.subscribers.models import Subscriber
from coach.subscribers.services import SignUp, SubscribeError, check_sign_up
from coach.subscribers.suppression import is_suppressed, lift


def current_enrolment(session: Session, subscriber_id: int) -> Enrolment | None:
    return session.scalars(
        select(Enrolment).where(Enrolment.subscriber_id == subscriber_id)
        .order_by(Enrolment.id.desc()).limit(1)
    ).first()


def subscribe(
    session: Session, form: SignUp, now: datetime, *, secret_key: str | None = None,
    confirmed: bool = False,
) -> tuple[Subscriber, Enrolment]:
    """Create (or reuse) the subscriber and start a programme. Raises SubscribeError.

    With ``secret_key``, an address on the suppression list (its owner had their data erased)
    is refused unless the person ``confirmed`` the sign-up themselves (a double opt-in: the
    link in the email, YES by text); then it leaves the list. Without it the list is not
    checked: production callers always give it.
    """
    email, phone, quality, clock = check_sign_up(form)
    addresses = [address for address in (email, phone) if address]
    if secret_key is not None and not confirmed:
        _refuse_suppressed(session, secret_key, addresses)
    version = version_for_quality(session, quality)
    if version is None:
        raise SubscribeError(f"no programme for {quality_name(quality)} is published yet; "
                             "run: coach programmes publish")
    existing = _existing(session, email, phone)
    if existing is not None:
        _refuse_second_programme(session, existing)
    subscriber = _subscriber(session, existing, email, phone, form, clock, now)
    enrolment = start_enrolment(session, subscriber, version, next_allowed_time(clock, [], now),
                                now, "the welcome goes at their next preferred time")
    if secret_key is not None and confirmed:
        for address in addresses:
            lift(session, secret_key, address)
    return subscriber, enrolment


def _refuse_suppressed(session: Session, secret_key: str, addresses: list[str]) -> None:
    for address in addresses:
        if is_suppressed(session, secret_key, address) is not None:
            what = "email address" if "@" in address else "phone number"
            raise SubscribeError(
                f"this {what} was erased at the person's request; they must sign up again "
                "themselves and confirm it (a fresh consent) before coach writes to it")


def start_enrolment(session: Session, subscriber: Subscriber, version: ProgrammeVersion,
                    due: datetime, now: datetime, why: str) -> Enrolment:
    """A new enrolment on a published version, its welcome due at ``due``, recorded."""
    enrolment = Enrolment(
        subscriber_id=subscriber.id, version_id=version.id, quality=version.programme.quality,
        answers={}, next_due_at=due, started_at=now, updated_at=now)
    session.add(enrolment)
    session.flush()
    record(session, subscriber.id, now, "decision", "enrol",
           f"started {version.programme.title} (version {version.number}); {why}",
           enrolment.id, next_due_at=due.isoformat())
    return enrolment


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
