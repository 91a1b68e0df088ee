"""Signing up by text: JOIN, choose a quality by replying 1-4, confirm with YES.

Nothing is scheduled until YES (double opt-in). Until then the person is a *contact*: a
subscriber row with SMS consent off and no enrolment. That row is what lets every reply we send
them be an outbox row like any other message; ``subscribe`` reuses it on YES. A YES counts only
within ``CONFIRM_FOR`` (48 hours, as a web sign-up's link) of our last prompt: a later one ends
the old request and says how to join again.

:func:`answer` takes the texts that belong to sign-up and returns ``None`` for the rest, which
go to the engine (``record_reply``): replies to a programme, and STOP and words of distress from
anyone (a sign-up in progress ends; the engine records the opt-out or flags it for a person).
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import phonenumbers
from phonenumbers.timezone import time_zones_for_number
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coach.delivery.models import Delivery
from coach.delivery.services import delivery_row, insert_deliveries
from coach.delivery.status import SIGNUP
from coach.inbound.models import Reply
from coach.inbound.services import Incoming
from coach.inbound.signup_models import SmsSignup
from coach.inbound.understanding import Understood
from coach.inbound.understanding.normalise import normalise as normalize
from coach.programmes.qualities import QUALITIES, check_quality, quality_name
from coach.programmes.render import render_message
from coach.programmes.services import version_for_quality
from coach.scheduling.enrol import subscribe
from coach.scheduling.models import COMPLETED, STOPPED
from coach.scheduling.optin import confirm, pending_for_phone
from coach.settings import Settings
from coach.subscribers.links import CONFIRM_FOR
from coach.subscribers.models import PendingSignup, Subscriber
from coach.subscribers.services import SignUp

log = logging.getLogger(__name__)

CHOOSING, CONFIRMING = "choosing", "confirming"
NUMBER = re.compile(r"^(\d{1,3})\b")
JOIN_WORDS = {"join"}
RISK = "risk"
YES_WORDS = {"yes", "y", "yes please", "yeah", "yep", "confirm"}
NO_WORDS = {"no", "n", "no thanks"}
# A web sign-up in Spanish asks for SI.
WEB_YES = YES_WORDS | {"si", "si por favor", "vale"}
# Sign-up messages per sign-up after which a text we do not understand gets no answer, so a
# loop with another automated number ends.
MAX_PROMPTS = 8
SOURCE = "sms double opt-in"
EXPIRED = ("Your request to join has expired, so nothing is set up. Text JOIN to start "
           "again.")
# Zones that are tzdata links to another: a UK mobile's zones come sorted, Guernsey first.
TZ_LINKS = {"Europe/Guernsey": "Europe/London", "Europe/Isle_of_Man": "Europe/London",
            "Europe/Jersey": "Europe/London"}


@dataclass(frozen=True)
class InboundSms:
    phone: str  # E.164
    text: str
    provider_id: str
    carrier_keyword: str | None = None  # stop | start | help, already answered by the carrier


def answer(session: Session, sms: InboundSms, reply: Incoming, now: datetime,
           settings: Settings) -> list[int] | None:
    """Outbox ids of the replies to a sign-up text, or None when the engine should handle it.
    ``reply`` is the text read once at the edge (its sender and their programme looked up)."""
    signup = session.scalars(select(SmsSignup).where(SmsSignup.phone == sms.phone)).first()
    subscriber, enrolment = reply.subscriber, reply.enrolment
    kind = sms.carrier_keyword or _kind(reply.understood)
    from_web = pending_for_phone(session, sms.phone, now)
    if from_web is not None and kind not in ("stop", RISK) and normalize(sms.text) in WEB_YES:
        if signup is not None:
            session.delete(signup)  # the web page's choices win: they are the newer request
        contact = session.get(Subscriber, from_web.subscriber_id)
        assert contact is not None
        return Conversation(session, None, contact, sms, now, settings).web_confirmed(from_web)
    if enrolment is not None and enrolment.state not in (COMPLETED, STOPPED):
        if signup is not None:
            session.delete(signup)  # they have subscribed another way since
        return None
    if signup is None and not _joining(sms.text, kind, enrolment is None):
        return _first_words(session, subscriber, enrolment is None, sms, kind, now, settings)
    subscriber = subscriber or _contact(session, sms.phone, now, settings)
    if signup is None:
        signup = SmsSignup(phone=sms.phone, state=CHOOSING, started_at=now, updated_at=now)
        session.add(signup)
        session.flush()
    return Conversation(session, signup, subscriber, sms, now, settings).reply(kind)


def _kind(understood: Understood) -> str:
    """A stop, start or help, or "risk" when the words may be a person in danger: the engine
    answers those, whatever stage of sign-up they arrive at."""
    return RISK if understood.risk != "none" else understood.intent


def _joining(text: str, kind: str, never_enrolled: bool) -> bool:
    """JOIN from anyone between programmes; START only from a number never enrolled (START
    from someone who stopped resumes their programme: the engine does that)."""
    return normalize(text) in JOIN_WORDS or (kind == "start" and never_enrolled)


def _first_words(session: Session, subscriber: Subscriber | None, never_enrolled: bool,
                 sms: InboundSms, kind: str, now: datetime, settings: Settings
                 ) -> list[int] | None:
    """Not joining. A stranger learns how to join, once: their next text finds a contact, whom
    the engine answers only for keywords and distress, so there is no loop with a robot. HELP
    from a contact who never joined says how to join, too."""
    carrier_answered = sms.carrier_keyword is not None
    if subscriber is None:
        subscriber = _contact(session, sms.phone, now, settings)
        if kind in ("stop", RISK) or carrier_answered:
            return None  # the engine records the opt-out, or flags it for a person
    elif not (never_enrolled and kind == "help" and not carrier_answered):
        return None
    return Conversation(session, None, subscriber, sms, now, settings).info()


def _contact(session: Session, phone: str, now: datetime, settings: Settings) -> Subscriber:
    """Someone we answer before they subscribe: no consent, no enrolment, nothing scheduled."""
    contact = Subscriber(
        phone=phone, name="", timezone=zone_for(phone), preferred_channel="sms",
        send_time=time.fromisoformat(settings.default_send_time),
        quiet_start=time.fromisoformat(settings.default_quiet_start),
        quiet_end=time.fromisoformat(settings.default_quiet_end),
        sms_consent=False, email_consent=False, recent_sends=[], created_at=now,
    )
    session.add(contact)
    session.flush()
    return contact


def zone_for(phone: str) -> str:
    """The first time zone of the number's area or country, or UTC when it has none we know.

    A guess where a country has several zones; the done message says which one we used.
    """
    zones = time_zones_for_number(phonenumbers.parse(phone, None))
    zone = zones[0] if zones and zones[0] != "Etc/Unknown" else "UTC"
    return TZ_LINKS.get(zone, zone)


def choice(text: str) -> str | None:
    """The quality someone chose: a number 1-4 ("3", "3 please"), or its name."""
    words = normalize(text)
    number = NUMBER.match(words)
    if number:
        index = int(number.group(1)) - 1
        return list(QUALITIES)[index] if 0 <= index < len(QUALITIES) else None
    for candidate in (words, words.replace(" ", "-")):
        try:
            return check_quality(candidate)
        except ValueError:
            continue
    return None


@dataclass
class Conversation:
    session: Session
    signup: SmsSignup | None
    contact: Subscriber
    sms: InboundSms
    now: datetime
    settings: Settings

    def reply(self, kind: str) -> list[int] | None:
        assert self.signup is not None
        if kind in ("stop", RISK):
            self._end()
            return None  # the engine records the opt-out, or flags it for a person, and answers
        self._record()
        if self.sms.carrier_keyword == "help":
            return []  # the carrier has answered it
        if kind == "help":
            return self._info()
        if kind == "start" or normalize(self.sms.text) in JOIN_WORDS:
            self._move(CHOOSING, None)
            return self._send("signup_choose", self._menu(again=False))
        if self.signup.state == CONFIRMING:
            return self._confirming()
        return self._choosing()

    def _choosing(self) -> list[int]:
        quality = choice(self.sms.text)
        if quality is None:
            return self._send("signup_choose", self._menu(again=True))
        self._move(CONFIRMING, quality)
        return self._send("signup_confirm", self._offer(again=False))

    def _confirming(self) -> list[int]:
        words = normalize(self.sms.text)
        if words in YES_WORDS:
            return self._expired() if self._stale() else self._confirmed()
        if words in NO_WORDS:
            self._end()
            return self._send("signup_cancelled", {})
        if choice(self.sms.text) is not None:  # a change of mind before YES
            return self._choosing()
        return self._send("signup_confirm", self._offer(again=True))

    def _stale(self) -> bool:
        """Asked too long ago: a YES now may not be the consent we asked for."""
        assert self.signup is not None
        return self.now - self.signup.updated_at > CONFIRM_FOR

    def _expired(self) -> list[int]:
        log.info("sign-up of subscriber %s expired before YES", self.contact.id)
        self._end()
        return self._send("signup_info", {"next": EXPIRED})

    def _move(self, state: str, quality: str | None) -> None:
        assert self.signup is not None
        self.signup.state, self.signup.quality, self.signup.updated_at = state, quality, self.now

    def info(self) -> list[int]:
        """What coach is and how to join, to someone who has not."""
        self._record()
        return self._info()

    def _info(self) -> list[int]:
        state = self.signup.state if self.signup is not None else None
        next_step = {CHOOSING: "Reply 1-4 to choose your focus.",
                     CONFIRMING: "Reply YES to start."}.get(state or "", "Text JOIN to start.")
        return self._send("signup_info", {"next": next_step})

    @staticmethod
    def _menu(again: bool) -> dict[str, Any]:
        return {"qualities": list(QUALITIES.values()), "again": again}

    def _offer(self, again: bool) -> dict[str, Any]:
        """The programme's pace, from the version they would start on."""
        assert self.signup is not None and self.signup.quality is not None
        version = version_for_quality(self.session, self.signup.quality)
        steps = version.definition["steps"] if version is not None else []
        weeks = max((step["week"] for step in steps), default=1)
        return {"quality": quality_name(self.signup.quality), "weeks": weeks,
                "per_week": max(1, round(len(steps) / weeks)), "again": again}

    def _confirmed(self) -> list[int]:
        assert self.signup is not None and self.signup.quality is not None
        quality, contact = self.signup.quality, self.contact
        self._end()
        subscribe(self.session, SignUp(
            focus=quality, timezone=contact.timezone, phone=contact.phone,
            send_time=f"{contact.send_time:%H:%M}", quiet_start=f"{contact.quiet_start:%H:%M}",
            quiet_end=f"{contact.quiet_end:%H:%M}", source=SOURCE), self.now,
            secret_key=self.settings.secret_key, confirmed=True)
        return self._send("signup_done", {"quality": quality_name(quality),
                                          "zone": contact.timezone,
                                          "time": f"{contact.send_time:%H:%M}"})

    def web_confirmed(self, pending: PendingSignup) -> list[int]:
        """YES to the text a web sign-up sent: the same confirmation as the email link."""
        self._record()
        result = confirm(self.session, pending.id, self.now, "by replying YES to our text",
                         self.settings.secret_key)
        subscriber = result.subscriber or self.contact
        quality = result.enrolment.quality if result.enrolment else pending.choices["focus"]
        return self._send("signup_done", {"quality": quality_name(quality),
                                          "zone": subscriber.timezone,
                                          "time": f"{subscriber.send_time:%H:%M}"})

    def _end(self) -> None:
        if self.signup is not None:
            self.session.delete(self.signup)
            self.signup = None

    def _record(self) -> None:
        """The text itself, as a reply: seen once by its provider id, and in their timeline."""
        self.session.add(Reply(
            subscriber_id=self.contact.id, channel="sms", provider_id=self.sms.provider_id,
            text=self.sms.text.replace("\x00", ""), intent=SIGNUP, received_at=self.now))
        self.session.flush()
        log.info("sign-up text from subscriber %s", self.contact.id)

    def _send(self, template: str, variables: dict[str, Any]) -> list[int]:
        if variables.get("again") and self._prompts() >= MAX_PROMPTS:
            log.info("sign-up of subscriber %s: no more prompts", self.contact.id)
            return []
        if self.signup is not None:
            self.signup.updated_at = self.now  # the last prompt: YES must follow within 48 h
        rendered = render_message(template, {"name": "there", **variables})
        key = f"signup:{self.sms.provider_id}"
        return insert_deliveries(self.session, [delivery_row(
            key, self.contact, "sms", SIGNUP, rendered, self.now)])

    def _prompts(self) -> int:
        since = self.signup.started_at if self.signup is not None else self.now
        return self.session.scalar(select(func.count(Delivery.id)).where(
            Delivery.subscriber_id == self.contact.id, Delivery.kind == SIGNUP,
            Delivery.created_at >= since)) or 0
