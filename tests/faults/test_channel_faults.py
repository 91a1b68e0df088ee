"""The providers misbehave under a real run: Twilio refusing in bursts, holding its answer past
the client's timeout or reporting a number opted out at the carrier; the SMTP server dropping
the connection after a message's final "." and before its answer."""

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from coach.delivery.models import FAILED, QUEUED, SENT, UNKNOWN, Delivery
from coach.subscribers.models import Subscriber
from tests.faults.conftest import Recorder
from tests.faults.peers import (
    BROKEN,
    HANG,
    OK,
    OPTED_OUT,
    SHORT_WAITS,
    SLOW_DOWN,
    TWILIO_HOLD_OFF,
    SmtpPeer,
    smtp_env,
    twilio_env,
)
from tests.faults.run import DUE, RECOVERY, FaultRun
from tests.integration.conftest import wait_until
from tests.support.fake_twilio import FakeTwilio

PEOPLE = 120  # 60 of them on SMS
# Bursts among good answers, in the order requests arrive. Six refusals in a row, to two pool
# processes that try a message three times, run at least one message out of tries: it goes
# back to the queue, and its process holds off, sending the rest of its batch back too.
BURSTS = [OK] * 10 + [HANG] * 2 + [OK] * 5 + [OPTED_OUT] * 3 + [OK] * 5 + [SLOW_DOWN] * 6 \
    + [BROKEN] * 6
RETRY_STEP = timedelta(minutes=2)  # the longest backoff of a message's first two tries
DROPPED = {"person10@example.org", "person20@example.org", "person30@example.org"}


@pytest.mark.faults
def test_twilio_refusing_in_bursts_retries_later_and_never_resends_blindly(
    fault_run: FaultRun, twilio_peer: FakeTwilio, record: Recorder
) -> None:
    fault_run.populate(PEOPLE, opt_outs=2)
    fault_run.peers.append(twilio_peer.accepted)
    twilio_peer.script(*BURSTS)
    fault_run.start_worker(app=SHORT_WAITS,
                           env=twilio_env(twilio_peer.url, "https://coach.example.org"))
    record.start_clock()
    retried, reasons = _bursts_and_their_retries(fault_run, twilio_peer)
    fault_run.sweep(RECOVERY)  # every retry is due; housekeeping leaves the unknown alone
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("Twilio 429, 500, timeout, 21610 in bursts", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0 and ledger.problems == [], ledger
    assert any("HTTP 429" in why for why in reasons), reasons
    assert any("HTTP 500" in why for why in reasons), reasons
    _only_the_timed_out_are_unknown(fault_run, twilio_peer)
    _opted_out_at_the_carrier_fail_and_lose_consent(fault_run, twilio_peer)
    fault_run.assert_next_morning_clean(ledger.unknown)
    assert fault_run.statuses()[SENT] == ledger.planned - ledger.unknown - ledger.failed
    taken = twilio_peer.accepted()
    assert all(taken[row] == 1 for row in retried), "each retried message reached Twilio once"


def _bursts_and_their_retries(run: FaultRun, peer: FakeTwilio) -> tuple[set[int], list[str]]:
    """Sweeps a simulated two minutes apart, until nothing waits to be tried again; returns
    the rows that went back to the queue and why."""
    retried: set[int] = set()
    reasons: list[str] = []
    moment = DUE
    while moment < RECOVERY:
        run.sweep(moment)
        run.wait_settled(moment)
        waiting = _waiting_to_retry(run, moment)
        if not waiting:
            break
        retried.update(waiting)
        reasons += waiting.values()
        _hold_off_over(run, peer)
        moment += RETRY_STEP
    return retried, reasons


def _waiting_to_retry(run: FaultRun, after: datetime) -> dict[int, str]:
    """Rows back in the queue for a later try, with the reason."""
    with run.factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.error).where(
            Delivery.status == QUEUED, Delivery.send_after > after,
            Delivery.error.startswith("will retry"))).all()
    return {row_id: str(error) for row_id, error in rows}


def _hold_off_over(run: FaultRun, peer: FakeTwilio) -> None:
    """Every task ended, and a process that ran out of tries no longer holds off (in
    production the next sweep comes minutes later, not seconds)."""
    run.quiesce()
    wait_until(lambda: time.time() > peer.last_refused() + TWILIO_HOLD_OFF, every=0.05)


def _only_the_timed_out_are_unknown(run: FaultRun, peer: FakeTwilio) -> None:
    held = {t.delivery for t in peer.requests(HANG)}
    with run.factory() as session:
        unknown = dict(session.execute(select(Delivery.id, Delivery.error)
                                       .where(Delivery.status == UNKNOWN)).all())
    assert set(unknown) == held and len(held) == 2, (unknown, held)
    assert all("did not answer in time" in str(why) for why in unknown.values()), unknown


def _opted_out_at_the_carrier_fail_and_lose_consent(run: FaultRun, peer: FakeTwilio) -> None:
    gone = {t.delivery for t in peer.requests(OPTED_OUT)}
    with run.factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.status, Delivery.error,
                                      Subscriber.sms_consent).join(Subscriber)
                               .where(Delivery.id.in_(gone))).all()
        failed = session.scalars(select(Delivery.id).where(Delivery.status == FAILED)).all()
    assert len(rows) == 3 and set(failed) == gone, (rows, failed)
    for _, status, error, consents in rows:
        assert status == FAILED and error == "opted out at the carrier (Twilio 21610)"
        assert consents is False, "the number gets nothing more"


def test_smtp_dropping_the_connection_after_the_final_dot_leaves_the_row_unknown(
    fault_run: FaultRun, smtp_peer: SmtpPeer, record: Recorder
) -> None:
    fault_run.populate(60, opt_outs=2)
    fault_run.peers.append(smtp_peer.accepted)
    smtp_peer.drop_after_data = DROPPED
    fault_run.start_worker(env=smtp_env(smtp_peer.url))
    record.start_clock()
    fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    fault_run.quiesce()
    fault_run.sweep(RECOVERY)  # housekeeping leaves an unknown row alone: never resent
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("SMTP connection dropped after the final dot", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0 and ledger.problems == [], ledger
    assert ledger.unknown == ledger.reconciled == len(DROPPED), ledger
    with fault_run.factory() as session:
        unknown = dict(session.execute(select(Delivery.address, Delivery.error)
                                       .where(Delivery.status == UNKNOWN)).all())
    assert set(unknown) == DROPPED, unknown
    assert all("the relay's answer never came" in str(why) for why in unknown.values())
    assert sorted(r.to for r in smtp_peer.received if r.dropped) == sorted(DROPPED)
    assert ledger.sent == ledger.planned - ledger.unknown - ledger.failed - ledger.deferred
