"""Signing up on the web page: double opt-in, one address at a time.

``request_signup`` keeps what the form gave as a pending sign-up per address and queues a
confirmation: an email with a link that works once for 48 hours, or a text asking for YES.
Nothing is scheduled until the person confirms (``confirm``). The page answers the same
whatever happens here, so it never tells a stranger whether an address is known: the owner of
a known address gets a link to manage their subscription instead of a confirmation.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coach.delivery.models import Delivery
from coach.delivery.services import OPTIN, delivery_row, insert_deliveries
from coach.events.services import record
from coach.programmes.qualities import quality_name
from coach.programmes.render import render_message
from coach.programmes.sandbox import markdown_link
from coach.programmes.services import version_for_quality
from coach.scheduling.enrol import current_enrolment, subscribe
from coach.scheduling.models import COMPLETED, STOPPED, Enrolment
from coach.settings import Settings
from coach.subscribers.clock import LocalClock
from coach.subscribers.links import CONFIRM_FOR, ERASE_FOR, MANAGE_FOR, make_link_token, manage_url
from coach.subscribers.models import PendingSignup, Subscriber
from coach.subscribers.services import SignUp, SubscribeError, check_sign_up, find_by_address
from coach.subscribers.suppression import is_suppressed, lift

# Confirmation messages one address may be sent in a day, however often the form is filled.
MAX_CONFIRMATIONS_PER_DAY = 3
SOURCE = "web double opt-in"
# The consent wording a person agrees to, by version: the page shows it beside the button and
# the consent record names the version. A new wording gets a new key; old keys stay.
WORDINGS = {
    "web-2026-11": (
        "Yes, send me coach's coaching messages for the quality I chose, about three a week at "
        "the time I picked, by the channels I gave. I can pause, change or stop at any time "
        "(reply STOP, or use the link in every email). Coaching, not therapy."
    ),
}
WORDING = "web-2026-11"


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation link did: ``outcome`` is confirmed, used, expired or missing."""

    outcome: str
    subscriber: Subscriber | None = None
    enrolment: Enrolment | None = None


def request_signup(session: Session, form: SignUp, now: datetime, settings: Settings,
                   client_ip: str | None = None) -> list[int]:
    """Outbox ids to send: a confirmation (or a manage link) per address. Raises
    SubscribeError, saying what to fix, before changing anything."""
    email, phone, quality, clock = check_sign_up(form)
    if version_for_quality(session, quality) is None:
        raise SubscribeError(f"{quality_name(quality)} has no programme yet; choose another "
                             "quality")
    choices = asdict(form) | {"email": None, "phone": None, "source": SOURCE}
    contact: Subscriber | None = None
    ids: list[int] = []
    for channel, address in (("email", email), ("sms", phone)):
        known = find_by_address(session, address) if address else None
        if address is None or _sent_enough(session, address, known, channel, now):
            continue
        if known is not None and known.consented(channel):
            ids += _manage_link(session, known, channel, now, settings)
            continue
        if channel == "sms" and _said_stop(session, settings, known, address):
            continue  # a number that said STOP is not texted because a form named it
        contact = known or contact or _contact(session, form, clock, now)
        setattr(contact, _field(channel), address)
        pending = PendingSignup(
            subscriber_id=contact.id, channel=channel, address=address, choices=choices,
            wording=WORDING, client_ip=client_ip if settings.record_optin_ip else None,
            created_at=now, expires_at=now + CONFIRM_FOR)
        session.add(pending)
        session.flush()
        ids += _ask_to_confirm(session, contact, pending, now, settings)
    return ids


def confirm(session: Session, pending_id: int, now: datetime, how: str, secret_key: str
            ) -> Confirmed:
    """Confirm one pending sign-up: consent for its address, and the programme starts with
    the welcome at once (or when quiet hours end). Works once, and only before it expires."""
    pending = session.get(PendingSignup, pending_id, with_for_update=True)
    if pending is None:
        return Confirmed("missing")
    if pending.confirmed_at is not None:
        return Confirmed("used")
    if now > pending.expires_at:
        return Confirmed("expired")
    subscriber = session.get(Subscriber, pending.subscriber_id)
    if subscriber is None or subscriber.erased_at is not None:
        return Confirmed("missing")
    pending.confirmed_at = now
    enrolment = current_enrolment(session, subscriber.id)
    if enrolment is not None and enrolment.state not in (COMPLETED, STOPPED):
        subscriber.set_consent(pending.channel, True, now, SOURCE)  # their other address
        lift(session, secret_key, pending.address)
        record(session, subscriber.id, now, "consent", f"{pending.channel}-opt-in",
               f"agreed to {pending.channel} messages ({SOURCE})")
    else:
        form = SignUp(**{**pending.choices, _field(pending.channel): pending.address})
        subscriber, enrolment = subscribe(session, form, now, secret_key=secret_key,
                                          confirmed=True)
        enrolment.next_due_at = _at_once(subscriber, now)
    record(session, subscriber.id, now, "consent", "wording",
           f"confirmed {how}; agreed to: {WORDINGS[pending.wording]}", enrolment.id,
           wording=pending.wording, channel=pending.channel,
           **({"client_ip": pending.client_ip} if pending.client_ip else {}))
    return Confirmed("confirmed", subscriber, enrolment)


def pending_for_phone(session: Session, phone: str, now: datetime) -> PendingSignup | None:
    """The newest web sign-up still waiting for this phone's YES."""
    return session.scalars(
        select(PendingSignup).where(PendingSignup.address == phone,
                                    PendingSignup.channel == "sms",
                                    PendingSignup.confirmed_at.is_(None),
                                    PendingSignup.expires_at >= now)
        .order_by(PendingSignup.id.desc()).limit(1)).first()


def send_manage_link(session: Session, address: str, now: datetime, settings: Settings
                     ) -> list[int]:
    """The "send me my link" form: a fresh link to a subscriber's own address, else nothing.
    The page says the same either way."""
    known = find_by_address(session, address)
    if known is None or known.erased_at is not None:
        return []
    channel = "email" if known.email == address else "sms"
    if _sent_enough(session, address, known, channel, now):
        return []
    if not known.consented(channel):
        return []
    return _manage_link(session, known, channel, now, settings)


def send_erase_link(session: Session, subscriber: Subscriber, now: datetime,
                    settings: Settings) -> tuple[list[int], str | None]:
    """Step two of erasing: a link that works for 48 hours, to the person's own address (by
    email when they have one), even if they have unsubscribed. Returns the outbox ids and the
    channel used, or no channel when the day's share of links has gone."""
    channel = "email" if subscriber.email else "sms" if subscriber.phone else None
    address = subscriber.address(channel) if channel else None
    if channel is None or address is None or _sent_enough(session, address, subscriber,
                                                          channel, now):
        return [], None
    token = make_link_token(settings.secret_key, "erase", subscriber.id, now)
    variables = {"link": markdown_link(f"{settings.public_url}/erase/{token}"),
                 "hours": int(ERASE_FOR.total_seconds() // 3600),
                 "name": subscriber.name or "there"}
    key = f"erase-link:{subscriber.id}:{now.isoformat()}"
    return _optin_message(session, subscriber, channel, key, now, "erase_confirm",
                          variables), channel


def _field(channel: str) -> str:
    return "email" if channel == "email" else "phone"


def _at_once(subscriber: Subscriber, now: datetime) -> datetime:
    clock = subscriber.clock()
    return clock.end_of_quiet_hours(now) if clock.in_quiet_hours(now) else now


def _contact(session: Session, form: SignUp, clock: LocalClock, now: datetime) -> Subscriber:
    """A person before they confirm: no consent, no programme (like a sign-up by text)."""
    contact = Subscriber(
        name=form.name.strip()[:100], timezone=clock.timezone, send_time=clock.send_time,
        quiet_start=clock.quiet_start, quiet_end=clock.quiet_end,
        preferred_channel="sms" if form.phone else "email", discreet=form.discreet,
        language=form.language, country=form.country, recent_sends=[], created_at=now)
    session.add(contact)
    session.flush()
    return contact


def _said_stop(session: Session, settings: Settings, known: Subscriber | None, phone: str
              ) -> bool:
    """Texts withdrawn (a STOP), not merely never agreed to; also before an erasure."""
    if known is not None:
        return not known.sms_consent and known.sms_consent_at is not None
    suppressed = is_suppressed(session, settings.secret_key, phone)
    return suppressed is not None and suppressed.opted_out


def _sent_enough(session: Session, address: str, known: Subscriber | None, channel: str,
                 now: datetime) -> bool:
    """Has this address had its day's share of confirmations and links?"""
    since = now - timedelta(days=1)
    if known is not None:
        sent = session.scalar(select(func.count(Delivery.id)).where(
            Delivery.subscriber_id == known.id, Delivery.kind == OPTIN,
            Delivery.channel == channel, Delivery.created_at > since))
    else:
        sent = session.scalar(select(func.count(PendingSignup.id)).where(
            PendingSignup.address == address, PendingSignup.created_at > since))
    return (sent or 0) >= MAX_CONFIRMATIONS_PER_DAY


def _ask_to_confirm(session: Session, contact: Subscriber, pending: PendingSignup,
                    now: datetime, settings: Settings) -> list[int]:
    token = make_link_token(settings.secret_key, "confirm", pending.id, now)
    variables = {"quality": quality_name(pending.choices["focus"]),
                 "link": markdown_link(f"{settings.public_url}/confirm/{token}"),
                 "hours": int(CONFIRM_FOR.total_seconds() // 3600)}
    return _optin_message(session, contact, pending.channel, f"optin:{pending.id}", now,
                          "optin_confirm", variables)


def manage_link_variables(settings: Settings, subscriber: Subscriber, now: datetime
                          ) -> dict[str, Any]:
    """What templates/messages/manage_link.j2 needs: a fresh link, and how long it works."""
    return {"link": markdown_link(manage_url(settings, subscriber.id, now)),
            "days": MANAGE_FOR.days, "name": subscriber.name or "there"}


def _manage_link(session: Session, subscriber: Subscriber, channel: str, now: datetime,
                 settings: Settings) -> list[int]:
    return _optin_message(session, subscriber, channel,
                          f"manage-link:{subscriber.id}:{channel}:{now.isoformat()}", now,
                          "manage_link",
                          manage_link_variables(settings, subscriber, now))


def _optin_message(session: Session, subscriber: Subscriber, channel: str, key: str,
                   now: datetime, template: str, variables: dict[str, Any]) -> list[int]:
    """A message the person asked for on the web page, in their language, to their address
    (the ``optin`` kind: it may go before consent)."""
    rendered = render_message(template, variables, language=subscriber.language)
    return insert_deliveries(session, [delivery_row(key, subscriber, channel, OPTIN, rendered,
                                                    now)])
