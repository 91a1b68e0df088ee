"""Webhooks racing the senders of a real run: Twilio's status callbacks duplicated, forged and
out of order, and STOP arriving, by text and by email, while a batch is being sent."""

import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from coach.delivery.models import DELIVERED, FAILED, QUEUED, SENDING, Delivery
from coach.delivery.services import ALLOWED_AFTER_OPT_OUT
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import make_token
from tests.faults.conftest import Recorder
from tests.faults.peers import (
    HANG,
    OK,
    SHORT_WAITS,
    SmtpPeer,
    Webhooks,
    smtp_env,
    twilio_env,
)
from tests.faults.run import DUE, FaultRun
from tests.integration.conftest import wait_until
from tests.support.fake_twilio import FakeTwilio, Taken, delivery_of
from tests.web.support import Clock

PEOPLE = 60  # 30 on SMS, 30 by email
FEWER = 40  # enough for a batch to be struck mid-way on each channel
STOPPERS = 3  # besides the person whose message is on its way when STOP comes
STRIKE = 5  # the nudge, on each channel, during whose send the STOPs come
# Two answers held past the sender's timeout: the first message reported delivered while its
# sender still waits (its SID is a multiple of 3), the second only once the sender gave up.
HELD = [OK] * 5 + [HANG] * 2


@pytest.mark.faults
def test_status_callbacks_duplicated_forged_and_out_of_order_change_nothing(
    fault_run: FaultRun, twilio_peer: FakeTwilio, webhooks: Webhooks, record: Recorder
) -> None:
    fault_run.populate(PEOPLE, opt_outs=2)
    fault_run.peers.append(twilio_peer.accepted)
    twilio_peer.script(*HELD)
    early: list[Taken] = []

    def delivered_before_the_answer(taken: Taken) -> None:
        """Every third message: "delivered" before the sender has even heard Twilio's 201."""
        if int(taken.sid[2:], 16) % 3 == 0:
            assert _status_of(fault_run, taken.delivery) == SENDING, "the outcome is not in"
            assert webhooks.status(taken, "delivered") == 204
            early.append(taken)

    def then_the_rest(taken: Taken) -> None:
        """Right after the answer, racing the sender's own record of it: delivered before
        sent, or a late sent after delivered. After a held answer, the sender has marked the
        message unknown: the callbacks reconcile it."""
        if taken not in early:
            assert webhooks.status(taken, "delivered") == 204
        assert webhooks.status(taken, "sent") == 204

    twilio_peer.before_answer, twilio_peer.after_answer = delivered_before_the_answer, \
        then_the_rest
    fault_run.start_worker(app=SHORT_WAITS, env=twilio_env(twilio_peer.url, webhooks.url))
    record.start_clock()
    fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    wait_until(twilio_peer.idle)  # the callbacks that raced the senders are in
    assert twilio_peer.errors == []
    taken = twilio_peer.requests()
    assert early and len(taken) == PEOPLE // 2, "every text went once, a third reported early"
    outcomes = _sms_outcomes(fault_run)
    assert outcomes == {t.delivery: (DELIVERED, None, t.sid) for t in taken}, \
        "each delivered, with Twilio's SID, held answers and all"
    genuine = list(webhooks.posted)
    assert {webhooks.replay(posted) for posted in genuine} == {204}, "Twilio retries them"
    forged = {webhooks.status(t, "failed", forged=True, ErrorCode="21610") for t in taken}
    assert forged == {403}
    assert _sms_outcomes(fault_run) == outcomes, "replays and forgeries changed nothing"
    assert _sms_consents(fault_run) == PEOPLE // 2, "a forged 21610 took nobody's consent"
    ledger = fault_run.ledger(DUE)
    record("status callbacks: early, late, replayed, forged", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger


def _status_of(run: FaultRun, delivery_id: int | None) -> str | None:
    with run.factory() as session:
        return session.scalar(select(Delivery.status).where(Delivery.id == delivery_id))


def _sms_outcomes(run: FaultRun) -> dict[int, tuple[str, str | None, str | None]]:
    with run.factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.status, Delivery.error,
                                      Delivery.provider_id).where(Delivery.channel == "sms"))
        return {row_id: (status, error, sid) for row_id, status, error, sid in rows}


def _sms_consents(run: FaultRun) -> int:
    with run.factory() as session:
        return len(session.scalars(select(Subscriber.id).where(Subscriber.sms_consent)).all())


def test_stop_mid_batch_holds_from_the_next_message_on(
    fault_run: FaultRun, twilio_peer: FakeTwilio, smtp_peer: SmtpPeer, webhooks: Webhooks,
    clock: Clock, record: Recorder
) -> None:
    """One worker process, so the message on its way is the only one being attempted when
    the STOPs are committed; everything the peers take after that was attempted after."""
    fault_run.populate(FEWER, opt_outs=2)
    clock.now = DUE + timedelta(milliseconds=500)  # the STOPs come in the nudges' own second
    stops = Stops(fault_run, webhooks)
    fault_run.peers += [twilio_peer.accepted, smtp_peer.accepted, stops.answered_inline]
    twilio_peer.before_answer = lambda taken: stops.strike("sms", taken.to, len(
        twilio_peer.requests()))
    smtp_peer.before_answer = lambda received: stops.strike("email", received.to, len(
        smtp_peer.received))
    fault_run.start_worker(1, env={**twilio_env(twilio_peer.url, webhooks.url),
                                   **smtp_env(smtp_peer.url)})
    record.start_clock()
    fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    fault_run.quiesce()  # the email confirmations, which the workers send
    ledger = fault_run.ledger(DUE)
    record("STOP mid-batch, by SMS and by email", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert twilio_peer.errors == [] and smtp_peer.errors == []
    assert set(stops.committed) == {"sms", "email"}, "both channels were struck mid-batch"
    taken: dict[str, list[Any]] = {"sms": twilio_peer.requests(), "email": smtp_peer.received}
    for channel, stopped in stops.committed.items():
        _nothing_after_the_stop_but_its_confirmation(fault_run, channel, stopped,
                                                     taken[channel])
    assert len(stops.inline) == len(stops.committed["sms"]), "each text STOP confirmed once"


class Stops:
    """STOP, posted to the webhooks while a peer holds the answer to the ``STRIKE``-th message
    on a channel: from that message's person, and from the next people on that channel whose
    message nobody has attempted yet. Notes when each STOP was committed (its answer came)."""

    def __init__(self, run: FaultRun, webhooks: Webhooks):
        self.run, self.webhooks = run, webhooks
        self.committed: dict[str, dict[str, float]] = {}  # channel -> address -> time.time()
        self.inline: list[int] = []  # confirmations answered in TwiML, which Twilio sends

    def strike(self, channel: str, in_flight: str, count: int) -> None:
        if count != STRIKE:
            return
        addresses = [in_flight, *self._not_attempted(channel)]
        assert len(addresses) == 1 + STOPPERS, addresses
        self.committed[channel] = {address: self._stop(channel, address)
                                   for address in addresses}

    def answered_inline(self) -> Counter[int]:
        return Counter(self.inline)

    def _not_attempted(self, channel: str) -> list[str]:
        with self.run.factory() as session:
            return list(session.scalars(
                select(Delivery.address).where(Delivery.channel == channel,
                                               Delivery.status.in_((QUEUED, SENDING)),
                                               Delivery.attempted_at.is_(None))
                .order_by(Delivery.id).limit(STOPPERS)))

    def _stop(self, channel: str, address: str) -> float:
        if channel == "sms":
            status, twiml = self.webhooks.twilio("/hooks/twilio/sms", {
                "From": address, "To": "+15005550006", "Body": "STOP",
                "MessageSid": f"SMstop{address[1:]}", "AccountSid": "AC" + "a" * 32})
            assert status == 200, twiml
            self.inline += [delivery_of(m.get("action", "")) or 0
                            for m in ElementTree.fromstring(twiml).iter("Message")]
        else:
            assert self.webhooks.email(self._stop_email(address)) == 200
        return time.time()

    def _stop_email(self, address: str) -> bytes:
        with self.run.factory() as session:
            subscriber_id = session.scalars(select(Subscriber.id)
                                            .where(Subscriber.email == address)).one()
        token = make_token(self.webhooks.settings.secret_key, subscriber_id, "reply")
        return (f"From: <{address}>\r\nTo: <reply+{token}@example.org>\r\n"
                f"Subject: Re: your nudge\r\nMessage-ID: <stop.{subscriber_id}@example.org>\r\n"
                "Date: Mon, 02 Mar 2026 18:30:00 +0000\r\n\r\nSTOP\r\n").encode()


def _nothing_after_the_stop_but_its_confirmation(
    run: FaultRun, channel: str, stopped: dict[str, float], taken: list[Any]
) -> None:
    """Before its STOP was committed, each address had only the message then on its way;
    after it, only the confirmation (by text it went back in the webhook's TwiML answer).
    The others' nudges failed, with the reason."""
    kinds = _kinds(run)
    in_flight = next(iter(stopped))
    confirmation = [ALLOWED_AFTER_OPT_OUT] if channel == "email" else []
    for address, committed_at in stopped.items():
        before = [t for t in taken if t.to == address and t.at < committed_at]
        after = [kinds[t.delivery] for t in taken if t.to == address and t.at >= committed_at]
        assert len(before) == (address == in_flight), (address, before)
        assert after == confirmation, (address, after)
    with run.factory() as session:
        held = session.execute(select(Delivery.address, Delivery.error).where(
            Delivery.channel == channel, Delivery.status == FAILED)).all()
    assert sorted(a for a, _ in held) == sorted(a for a in stopped if a != in_flight), held
    assert {why for _, why in held} == {f"not sent: {channel} opted out"}, held


def _kinds(run: FaultRun) -> dict[int, str]:
    with run.factory() as session:
        return {row_id: kind for row_id, kind in session.execute(
            select(Delivery.id, Delivery.kind))}
