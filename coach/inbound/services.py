"""The one inbound path: webhooks, the IMAP poller, the CLI and the dev inbox all call
:func:`record_reply`.

It dedupes by provider id, stores the reply, reads it once (:mod:`coach.inbound.understanding`,
with what the person was last asked and their language), and acts. Safety comes first, in every
state: an urgent reply pauses nudges, answers with the person's country's emergency and crisis
numbers, raises a flag and alerts the safety address; a concern is flagged for review with no
automatic answer and no change of pace. A reply with any risk is never saved as an answer, so
it is never echoed. Otherwise commands, ratings and answers pace the programme; when the reader
is unsure the reply is kept and nothing changes. Reply text never goes into a log line.

MANAGE (AJUSTES in Spanish) on its own asks for a fresh link to the person's manage page. It is
a keyword, told apart before the reader's intent (which would keep it as an answer), and only
when it is the whole reply: "how do I manage my time" is words like any others.
"""

import logging
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.delivery.services import (
    ALERT,
    ALLOWED_AFTER_OPT_OUT,
    CRISIS,
    delivery_row,
    insert_deliveries,
)
from coach.events.services import record
from coach.inbound.models import Reply
from coach.inbound.understanding import Understood, understand
from coach.programmes.echo import plain_words
from coach.programmes.limits import TemplateProblem
from coach.programmes.models import ProgrammeVersion
from coach.programmes.render import NEUTRAL_SUBJECT, Rendered, render_message
from coach.safety.services import alert_variables, crisis_variables, raise_flag
from coach.scheduling import plan
from coach.scheduling.apply import apply_event
from coach.scheduling.consent import opt_out
from coach.scheduling.enrol import current_enrolment
from coach.scheduling.models import Enrolment
from coach.scheduling.optin import manage_link_variables
from coach.scheduling.pacing import AWAITING, Answer, Decision, Halt, Pause, Resume
from coach.settings import get_settings
from coach.subscribers.addresses import channel_and_address
from coach.subscribers.models import Subscriber
from coach.subscribers.services import find_by_address

log = logging.getLogger(__name__)


class UnknownSender(LookupError):
    pass


# Kept of any reply: more than a long text (Twilio joins at most 1,600 characters), and no
# more than a person's answer needs. Store only what is needed (DESIGN, invariant 8).
MAX_REPLY_CHARS = 2000


# What a rating says about the week's practice: 1 "didn't manage it yet" to 5 "becoming a habit".
RATING_SIGNALS = {1: "slower", 2: "slower", 3: "steady", 4: "ready", 5: "ready"}
CARRIER_INTENTS = {"stop", "start", "help"}
MANAGE_WORDS = {"manage", "ajustes"}  # in either language, whatever the person's own
# Plain words, no template: what goes when the crisis message itself cannot be rendered.
CRISIS_FALLBACK = ("From coach: if you are in danger, call your local emergency number now. "
                   "This automated service can't help in an emergency. Your messages are "
                   "paused; reply RESUME to restart.")


@dataclass
class Outcome:
    reply_id: int | None
    intent: str
    duplicate: bool = False
    acks: list[int] = field(default_factory=list)
    decision: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One reply, read once at the edge: who sent it and on which channel, where their
    programme stands, and what the words mean in that context. Sign-up by text and the
    engine both act on this one value."""

    channel: str
    address: str
    text: str
    subscriber: Subscriber | None
    enrolment: Enrolment | None
    understood: Understood
    provider_id: str | None = None
    carrier_keyword: str | None = None


def incoming(session: Session, sender: str, text: str, provider_id: str | None = None,
             carrier_keyword: str | None = None) -> Incoming:
    """``carrier_keyword`` (stop, start or help) is one the carrier already acted on and
    answered (Twilio's Advanced Opt-Out): it decides the intent; the words are still read for
    risk, all of them (danger may come at the end of a long reply)."""
    channel, address = channel_and_address(sender)
    subscriber = find_by_address(session, address)
    enrolment = current_enrolment(session, subscriber.id) if subscriber else None
    text = text.replace("\x00", "")  # carries no meaning, and PostgreSQL text refuses it
    language = subscriber.language if subscriber else "en"
    understood = understand(text, asked(session, enrolment), language)
    if carrier_keyword in CARRIER_INTENTS:
        understood = replace(understood, intent=carrier_keyword)
    elif asks_to_manage(text):
        understood = replace(understood, intent="manage")  # its risk, read above, still counts
    return Incoming(channel, address, text, subscriber, enrolment, understood, provider_id,
                    carrier_keyword)


def asks_to_manage(text: str) -> bool:
    """MANAGE or AJUSTES and nothing else: trimmed, in any case, accents folded."""
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch)) in MANAGE_WORDS


def already_recorded(session: Session, provider_id: str | None) -> bool:
    """The provider sent this one before (a retried webhook): it was recorded the first time."""
    return bool(provider_id) and session.scalars(
        select(Reply.id).where(Reply.provider_id == provider_id)).first() is not None


def record_reply(
    session: Session, sender: str, text: str, now: datetime, provider_id: str | None = None,
    carrier_keyword: str | None = None,
) -> Outcome:
    """The whole inbound path for one reply: its duplicate check, one reading, the action."""
    if already_recorded(session, provider_id):
        return Outcome(None, "duplicate", duplicate=True)
    return act_on(session, incoming(session, sender, text, provider_id, carrier_keyword), now)


def act_on(session: Session, reply: Incoming, now: datetime) -> Outcome:
    """Store the reply and act on it; the caller has checked it is not a duplicate."""
    subscriber, enrolment, understood = reply.subscriber, reply.enrolment, reply.understood
    if subscriber is None:
        raise UnknownSender(f"no subscriber has the address {reply.address}; "
                            "subscribe first with: coach subscribe")
    stored = Reply(subscriber_id=subscriber.id, enrolment_id=enrolment.id if enrolment else None,
                   channel=reply.channel, provider_id=reply.provider_id,
                   text=reply.text[:MAX_REPLY_CHARS], intent=understood.intent, received_at=now)
    session.add(stored)
    session.flush()
    log.info("reply %s from subscriber %s: %s, risk %s", stored.id, subscriber.id,
             understood.intent, understood.risk)
    handler = Handler(session, subscriber, enrolment, reply.channel, stored, now,
                      carrier_answered=reply.carrier_keyword is not None)
    return handler.handle(understood, reply.text)


def asked(session: Session, enrolment: Enrolment | None) -> str:
    """What the person was last asked: "scale" (a 1-5 check-in), "text" (a question whose
    answer is saved) or "none"."""
    if enrolment is None or enrolment.state != AWAITING or enrolment.awaiting_step is None:
        return "none"
    version = session.get(ProgrammeVersion, enrolment.version_id)
    assert version is not None
    step = plan.programme(version.id, version.definition).steps[enrolment.awaiting_step]
    return "text" if step.get("save_as") else "scale"


Ack = tuple[str, dict[str, Any]]


@dataclass
class Handler:
    session: Session
    subscriber: Subscriber
    enrolment: Enrolment | None
    channel: str
    reply: Reply
    now: datetime
    carrier_answered: bool = False
    decision_action: str | None = None
    alerts: list[int] = field(default_factory=list)  # outbox ids of emails to the safety address

    def handle(self, understood: Understood, text: str) -> Outcome:
        outcome = Outcome(self.reply.id, understood.intent)
        acks: list[Ack | None] = []
        if understood.risk == "urgent":
            acks.append(self._urgent(understood))
        elif understood.risk == "concern":
            self._concern(understood)
        if understood.intent == "stop":
            acks.append(self._stop())  # always honoured, whatever else the reply says
        elif understood.intent == "pause":
            acks.append(self._pause(understood))  # a break is always safe to give
        elif understood.risk == "none":
            acks.append(self._ordinary(understood, text))
        outcome.decision = self.decision_action
        planned = [a for a in acks if a is not None]
        if self.carrier_answered:  # the carrier has answered its keyword; risk still answers
            planned = [a for a in planned if a[1].get("kind") == CRISIS]
        outcome.acks = self._plan_acks(planned)
        return outcome

    def _ordinary(self, understood: Understood, text: str) -> Ack | None:
        match understood.intent:
            case "start":
                return self._start()
            case "help":
                return ("help", {})
            case "manage":
                return self._manage()
            case "resume":
                return self._resume()
            case "slower" | "ready":
                return self._request(understood)
            case "rating":
                return self._rating(understood)
            case "answer":
                return self._answer(text)
            case _:
                return None  # unclear: kept, nothing changes, no cheerful reply

    # Safety ----------------------------------------------------------------------------------

    def _urgent(self, understood: Understood) -> Ack:
        raised = raise_flag(self.session, self.subscriber, self.reply.id, "urgent",
                            understood.category, self.now)
        self._decide(Halt(self.now, "a reply read as urgent risk: automated nudges paused until "
                                    "they reply RESUME"))
        settings = get_settings()
        self._alert(raised.flag, settings.safety_email, settings.public_url)
        variables = crisis_variables(self.subscriber, understood.category,
                                     person_will_see=bool(settings.safety_email))
        return ("crisis", {**variables, "kind": CRISIS})

    def _concern(self, understood: Understood) -> None:
        raise_flag(self.session, self.subscriber, self.reply.id, "concern", understood.category,
                   self.now)

    def _alert(self, flag: Any, safety_email: str, public_url: str) -> None:
        """The safety address hears at once, through the outbox; never the person's words."""
        if not safety_email:
            return
        rendered = render_message("alert", alert_variables(flag, public_url))
        row = delivery_row(f"alert:flag{flag.id}", self.subscriber, "email", ALERT, rendered,
                           self.now, enrolment_id=self.enrolment.id if self.enrolment else None)
        row["address"] = safety_email
        self.alerts = insert_deliveries(self.session, [row])

    # Consent ---------------------------------------------------------------------------------

    def _stop(self) -> Ack:
        decision = opt_out(self.session, self.subscriber, self.channel, self.now, "reply STOP",
                           f"replied STOP: no more {self.channel} messages",
                           reply_id=self.reply.id)
        self.decision_action = decision.action if decision else self.decision_action
        return ("stop_confirmed", {"kind": ALLOWED_AFTER_OPT_OUT})

    def _start(self) -> Ack:
        self.subscriber.set_consent(self.channel, True, self.now, "reply START")
        record(self.session, self.subscriber.id, self.now, "consent", f"{self.channel}-opt-in",
               f"replied START: {self.channel} messages welcome again")
        if self.enrolment is not None and self.enrolment.state == "stopped":
            self._decide(Resume(self.now))
        return ("start_confirmed", {})

    def _manage(self) -> Ack | None:
        """A fresh link to their manage page, on the channel they asked on, only while they
        consent to it: after STOP nothing more goes but its confirmation (invariant 5), and a
        contact who never confirmed a sign-up has nothing to manage. It goes to the address on
        file, never to whoever wrote, so a forwarded email cannot hand the link to another."""
        if not self.subscriber.consented(self.channel):
            log.info("MANAGE from subscriber %s: no %s consent, no link", self.subscriber.id,
                     self.channel)
            return None
        return ("manage_link", manage_link_variables(get_settings(), self.subscriber, self.now))

    # Pacing ----------------------------------------------------------------------------------

    def _pause(self, understood: Understood) -> Ack | None:
        decision = self._decide(Pause(self.now, understood.days))
        if decision is None or decision.action != "pause":
            return None
        until = decision.progress.paused_until
        local = plan.clock_of(self.subscriber).local(until) if until else None
        return ("paused", {"until": f"{local:%A %-d %B}" if local else "a while"})

    def _resume(self) -> Ack:
        decision = self._decide(Resume(self.now))
        return ("resumed", {}) if decision and decision.action == "resume" else ("not_paused", {})

    def _request(self, understood: Understood) -> Ack | None:
        """SLOWER or READY: a short answer outside a check-in on any channel; in one, by SMS
        only, as for any check-in answer (email needs no receipt)."""
        in_checkin = self._awaiting()
        label = understood.intent.upper()
        decision = self._decide(Answer(self.now, understood.intent, label))
        if decision is None or (in_checkin and self.channel != "sms"):
            return None
        repeat = decision.progress.repeat_step is not None
        return (f"ack_{understood.intent}", {"repeat": repeat})

    def _rating(self, understood: Understood) -> Ack | None:
        if not self._awaiting():
            return None  # a number with no check-in open: kept, nothing changes
        signal = RATING_SIGNALS[understood.rating or 3]
        decision = self._decide(Answer(self.now, signal, f"{understood.rating} of 5"))
        if decision is None or self.channel != "sms":
            return None  # answers by email need no receipt; SMS gets a short one
        repeat = decision.progress.repeat_step is not None
        return (f"ack_{signal}", {"repeat": repeat})

    def _answer(self, text: str) -> Ack | None:
        """Free text is an answer, never a request to slow down; outside a check-in it is kept
        and changes nothing."""
        if not self._awaiting():
            return None
        assert self.enrolment is not None
        self._save_answer(self.enrolment, text)
        decision = self._decide(Answer(self.now, "words", "a few words"))
        if decision is None or self.channel != "sms":
            return None
        return ("ack_words", {})

    def _awaiting(self) -> bool:
        return self.enrolment is not None and self.enrolment.state == AWAITING

    def _save_answer(self, enrolment: Enrolment, text: str) -> None:
        step_index = enrolment.awaiting_step
        prog = self._programme()
        if step_index is None or prog is None:
            return
        name = prog.steps[step_index].get("save_as")
        if name:
            enrolment.answers = {**(enrolment.answers or {}), name: plain_words(text)}

    def _decide(self, event: Any) -> Decision | None:
        decision = apply_event(self.session, self.subscriber, self.enrolment, event, self.now,
                               reply_id=self.reply.id)
        self.decision_action = decision.action if decision else self.decision_action
        return decision

    def _programme(self) -> plan.Programme | None:
        if self.enrolment is None:
            return None
        version = self.session.get(ProgrammeVersion, self.enrolment.version_id)
        assert version is not None
        return plan.programme(version.id, version.definition)

    # Acknowledgements ------------------------------------------------------------------------

    def _plan_acks(self, acks: list[Ack]) -> list[int]:
        rows = []
        for number, (template, extra) in enumerate(acks):
            kind = extra.pop("kind", "ack")
            rendered = self._render(template, extra, crisis=kind == CRISIS)
            key = f"r{self.reply.id}:{number}:{template}:{self.channel}"
            rows.append(delivery_row(key, self.subscriber, self.channel, kind, rendered,
                                     self.now, enrolment_id=self.enrolment.id if self.enrolment
                                     else None))
        return insert_deliveries(self.session, rows) + self.alerts

    def _render(self, template: str, extra: dict[str, Any], crisis: bool) -> Rendered:
        """The message; for a person in danger, never nothing: if the crisis message cannot be
        rendered, a plain one that still points to emergency help goes instead."""
        try:
            return render_message(template, {**self._variables(), **extra},
                                  discreet=self.subscriber.discreet,
                                  language=self.subscriber.language)
        except TemplateProblem as problem:
            if not crisis:
                raise
            log.error("crisis message for reply %s could not be rendered (%s); the plain one "
                      "went instead", self.reply.id, type(problem).__name__)
            return Rendered(CRISIS_FALLBACK, NEUTRAL_SUBJECT, CRISIS_FALLBACK)

    def _variables(self) -> dict[str, Any]:
        prog = self._programme()
        if self.enrolment is None or prog is None:
            return {"name": self.subscriber.name or "there", "quality": "your focus"}
        return plan.variables(self.subscriber, self.enrolment, prog)


def confirm_opt_out(session: Session, subscriber: Subscriber, channel: str, now: datetime,
                    key: str) -> list[int]:
    """The one confirmation an opt-out allows, for one that came by a path other than a reply
    we read (an unverified STOP email): the person learns of it, and can undo it."""
    rendered = render_message("stop_confirmed", {"name": subscriber.name or "there"},
                              discreet=subscriber.discreet, language=subscriber.language)
    return insert_deliveries(session, [delivery_row(
        f"optout:{key}:{channel}"[:120], subscriber, channel, ALLOWED_AFTER_OPT_OUT, rendered,
        now)])
