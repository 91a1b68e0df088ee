"""The one inbound path: the CLI, the dev inbox and (later) webhooks all call :func:`record_reply`.

It dedupes by provider id, stores the reply, works out what it means, lets pacing decide,
and plans any acknowledgement. Reply text never goes into a log line.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.delivery.services import ALLOWED_AFTER_OPT_OUT, delivery_row, insert_deliveries
from coach.events.services import record
from coach.inbound.models import Reply
from coach.inbound.parse import RATING, Intent, normalize, parse
from coach.programmes.models import ProgrammeVersion
from coach.programmes.render import render_message
from coach.scheduling import plan
from coach.scheduling.apply import apply_event
from coach.scheduling.models import Enrolment
from coach.scheduling.pacing import AWAITING, Answer, Decision, Halt, Pause, Resume
from coach.subscribers.addresses import channel_and_address
from coach.subscribers.consent import opt_out
from coach.subscribers.models import Subscriber
from coach.subscribers.services import current_enrolment, find_by_address

log = logging.getLogger(__name__)


class UnknownSender(LookupError):
    pass


TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                             "…": "...", "\u00a0": " "})
MAX_ANSWER = 500
# Kept of any reply: more than a long text (Twilio joins at most 1,600 characters), and no
# more than a person's answer needs. Store only what is needed (DESIGN, invariant 8).
MAX_REPLY_CHARS = 2000


def plain_words(text: str) -> str:
    """A saved answer as later messages echo it: phones' curly quotes made straight, so an
    echo keeps an SMS in GSM-7 (half the cost per segment), and the length bounded."""
    return " ".join(text.translate(TYPOGRAPHIC).split())[:MAX_ANSWER]


@dataclass
class Outcome:
    reply_id: int | None
    intent: str
    duplicate: bool = False
    acks: list[int] = field(default_factory=list)
    decision: str | None = None


def record_reply(
    session: Session, sender: str, text: str, now: datetime, provider_id: str | None = None,
    carrier_keyword: str | None = None,
) -> Outcome:
    """``carrier_keyword`` (stop, start or help) is one the carrier already acted on and
    answered (Twilio's Advanced Opt-Out): it decides the intent, and we plan no reply of our own
    to it, so the person does not get two."""
    channel, address = channel_and_address(sender)
    subscriber = find_by_address(session, address)
    if subscriber is None:
        raise UnknownSender(f"no subscriber has the address {address}; "
                            "subscribe first with: coach subscribe")
    if provider_id and session.scalars(select(Reply.id).where(Reply.provider_id == provider_id)
                                       ).first():
        return Outcome(None, "duplicate", duplicate=True)
    text = text.replace("\x00", "")  # carries no meaning, and PostgreSQL text refuses it
    intent = Intent(carrier_keyword, label=carrier_keyword.upper()) if carrier_keyword \
        else parse(text)  # all of it: words of danger may come at the end of a long one
    text = text[:MAX_REPLY_CHARS]
    enrolment = current_enrolment(session, subscriber.id)
    reply = Reply(subscriber_id=subscriber.id, enrolment_id=enrolment.id if enrolment else None,
                  channel=channel, provider_id=provider_id, text=text, intent=intent.kind,
                  received_at=now)
    session.add(reply)
    session.flush()
    log.info("reply %s from subscriber %s: %s", reply.id, subscriber.id, intent.kind)
    handler = Handler(session, subscriber, enrolment, channel, reply, now,
                      carrier_answered=carrier_keyword is not None)
    return handler.handle(intent, text)


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

    def handle(self, intent: Intent, text: str) -> Outcome:
        outcome = Outcome(self.reply.id, intent.kind)
        acks: list[tuple[str, dict[str, Any]] | None]
        match intent.kind:
            case "stop":
                acks = [self._stop()]
            case "start":
                acks = [self._start()]
            case "help":
                acks = [("help", {})]
            case "distress":
                acks = [self._distress()]
            case "pause":
                acks = [self._pause(intent)]
            case "resume":
                acks = [self._resume()]
            case _:
                acks = [self._answer(intent, text)]
        outcome.decision = self.decision_action
        if not self.carrier_answered:
            outcome.acks = self._plan_acks([a for a in acks if a is not None])
        return outcome

    # Consent ---------------------------------------------------------------------------------

    def _stop(self) -> tuple[str, dict[str, Any]]:
        decision = opt_out(self.session, self.subscriber, self.channel, self.now, "reply STOP",
                           f"replied STOP: no more {self.channel} messages",
                           reply_id=self.reply.id)
        self.decision_action = decision.action if decision else self.decision_action
        return ("stop_confirmed", {"kind": ALLOWED_AFTER_OPT_OUT})

    def _start(self) -> tuple[str, dict[str, Any]]:
        self.subscriber.set_consent(self.channel, True, self.now, "reply START")
        record(self.session, self.subscriber.id, self.now, "consent", f"{self.channel}-opt-in",
               f"replied START: {self.channel} messages welcome again")
        if self.enrolment is not None and self.enrolment.state == "stopped":
            self._decide(Resume(self.now))
        return ("start_confirmed", {})

    def _distress(self) -> tuple[str, dict[str, Any]]:
        self.subscriber.flagged_at = self.now
        self.subscriber.flag_reason = "wrote words of distress; needs a person, not a nudge"
        record(self.session, self.subscriber.id, self.now, "flag", "flag-for-admin",
               "reply used language of distress or danger: flagged for a person to follow up")
        self._decide(Halt(self.now, "reply used language of distress: automated nudges paused "
                                    "until they reply RESUME"))
        return ("distress", {})

    # Pacing ----------------------------------------------------------------------------------

    def _pause(self, intent: Intent) -> tuple[str, dict[str, Any]] | None:
        decision = self._decide(Pause(self.now, intent.days))
        if decision is None or decision.action != "pause":
            return None
        until = decision.progress.paused_until
        local = plan.clock_of(self.subscriber).local(until) if until else None
        return ("paused", {"until": f"{local:%A %-d %B}" if local else "a while"})

    def _resume(self) -> tuple[str, dict[str, Any]]:
        decision = self._decide(Resume(self.now))
        return ("resumed", {}) if decision and decision.action == "resume" else ("not_paused", {})

    def _answer(self, intent: Intent, text: str) -> tuple[str, dict[str, Any]] | None:
        enrolment = self.enrolment
        awaiting = enrolment is not None and enrolment.state == AWAITING
        if awaiting and enrolment is not None and not RATING.match(normalize(text)):
            self._save_answer(enrolment, text)
        signal = "steady" if intent.kind == "words" else intent.kind
        decision = self._decide(Answer(self.now, signal, intent.label))
        if decision is None or not awaiting or self.channel != "sms":
            return None  # answers by email need no receipt; SMS gets a short one
        if intent.kind == "words":
            return ("ack_words", {})
        repeat = decision.progress.repeat_step is not None
        return (f"ack_{signal}", {"repeat": repeat})

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

    def _plan_acks(self, acks: list[tuple[str, dict[str, Any]]]) -> list[int]:
        rows = []
        for number, (template, extra) in enumerate(acks):
            kind = extra.pop("kind", "ack")
            rendered = render_message(template, {**self._variables(), **extra},
                                      discreet=self.subscriber.discreet)
            key = f"r{self.reply.id}:{number}:{template}:{self.channel}"
            rows.append(delivery_row(key, self.subscriber, self.channel, kind, rendered,
                                     self.now, enrolment_id=self.enrolment.id if self.enrolment
                                     else None))
        return insert_deliveries(self.session, rows)

    def _variables(self) -> dict[str, Any]:
        prog = self._programme()
        if self.enrolment is None or prog is None:
            return {"name": self.subscriber.name or "there", "quality": "your focus"}
        return plan.variables(self.subscriber, self.enrolment, prog)
