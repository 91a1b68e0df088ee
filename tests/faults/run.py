"""One fault scenario's run: a few hundred people due at one moment, real worker processes that
a test may kill, sweeps enqueued through a producer at chosen moments, and the ledger."""

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import redis
from celery import Celery
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from coach.db import session_factory
from coach.delivery.models import QUEUED, SENDING, Delivery
from coach.programmes.services import publish_missing_builtins
from coach.scheduling.models import Enrolment
from coach.scheduling.services import LOST_AFTER, STALE_SENDING
from coach.settings import Settings
from tests.conftest import PROGRAMMES, START
from tests.faults.ledger import Ledger, check
from tests.helpers import enrol, reply
from tests.integration.conftest import wait_until
from tests.support.workers import Worker

PEOPLE = 300
DUE = START + timedelta(hours=9, minutes=30)  # 18:30 in London: everyone's welcome is due
# Housekeeping's next pass that sees both a stale sender and a lost task.
RECOVERY = DUE + max(STALE_SENDING, LOST_AFTER) + timedelta(minutes=1)
# The next morning, after everyone's quiet hours: what was deferred goes now.
MORNING = START + timedelta(hours=23, minutes=5)
# Some people's quiet hours start between DUE and RECOVERY: what recovery sends them waits.
EARLY_QUIET = "18:35"


TASK_EVENT = re.compile(r"Task \S+\[([^\]]+)\] (received|succeeded|raised|retry)")


class FaultWorker(Worker):
    """A test worker that a scenario may kill: ``kill`` takes the pool processes with the main
    one, as a machine or container dying would."""

    def idle(self) -> bool:
        """Every task this worker received has since ended: succeeded, raised, or was set to
        retry (a task received again after its pool process was lost must end again)."""
        last: dict[str, str] = {}
        for task_id, event in TASK_EVENT.findall(self.log.read_text()):
            last[task_id] = event
        return all(event != "received" for event in last.values())

    def pool_pids(self) -> list[int]:
        """The pool processes: the main process's children (Linux's /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=60)


@dataclass(frozen=True)
class Snapshot:
    """The broker's queue and unacknowledged messages, and the rows being sent, at a moment."""

    queue: int
    unacked: int
    sending: set[int]


class FaultRun:
    def __init__(self, settings: Settings, client: Celery, tmp_path: Path):
        self.settings, self.client, self.tmp_path = settings, client, tmp_path
        self.factory: sessionmaker[Session] = session_factory(settings.effective_database_url)
        self.workers: list[FaultWorker] = []
        # What recording peers took, by delivery id, beside the file channel's record.
        self.peers: list[Callable[[], Counter[int]]] = []
        self.started = time.monotonic()
        with self.factory.begin() as session:
            publish_missing_builtins(session, PROGRAMMES)

    def populate(self, people: int = PEOPLE, opt_outs: int = 5) -> None:
        """Half on email, half on SMS, all in London with their welcome due at DUE; one in ten
        with quiet hours from EARLY_QUIET; the first ``opt_outs`` say STOP before it is due."""
        for number in range(people):
            form = ({"email": f"person{number}@example.org"} if number % 2 == 0 else
                    {"email": "", "phone": f"+4479111{number:05d}"})
            if number % 10 == 3:
                form["quiet_start"] = EARLY_QUIET
            enrol(self.factory, START, **form)
        for number in range(0, 2 * opt_outs, 2):
            reply(self.factory, self.settings, f"person{number}@example.org", "STOP",
                  DUE - timedelta(hours=1))

    def start_worker(self, concurrency: int = 2, app: str = "tasks.app",
                     env: dict[str, str] | None = None, **more: str) -> FaultWorker:
        """A worker; ``env`` and ``more`` add settings of its own (COACH_SEND_BATCH_SIZE=...),
        ``app`` names another Celery app module (tests.faults.short_waits)."""
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        started = FaultWorker(self.settings, log, concurrency=concurrency,
                              env={**(env or {}), **more}, app=app)
        self.workers.append(started)
        return started

    def stop_workers(self) -> None:
        for started in self.workers:
            started.stop()

    def sweep(self, now: datetime) -> None:
        self.client.send_task("coach.sweep", kwargs={"now": now.isoformat()})

    def sent_lines(self) -> int:
        path = self.settings.effective_outbox_file
        return path.read_bytes().count(b"\n") if path.exists() else 0

    def wait_for_lines(self, count: int, timeout: float = 60) -> int:
        """Wait for the channel to have seen ``count`` messages: the moment to strike."""
        return int(wait_until(lambda: (n := self.sent_lines()) >= count and n,
                              timeout=timeout, every=0.005))

    def settled(self, now: datetime) -> bool:
        """Nothing due at ``now`` is left to plan or to send (deferred rows may wait)."""
        with self.factory() as session:
            due = session.scalar(select(func.count(Enrolment.id))
                                 .where(Enrolment.next_due_at <= now))
            busy = session.scalar(select(func.count(Delivery.id)).where(
                or_(Delivery.status == SENDING,
                    (Delivery.status == QUEUED)
                    & or_(Delivery.send_after.is_(None), Delivery.send_after <= now))))
        return due == 0 and busy == 0

    def wait_settled(self, now: datetime, timeout: float = 120) -> float:
        """Wait until settled; returns the seconds it took."""
        began = time.monotonic()
        wait_until(lambda: self.settled(now), timeout=timeout, every=0.1)
        return time.monotonic() - began

    def quiesce(self, dead: "Snapshot | None" = None, timeout: float = 120) -> None:
        """Wait until the live workers have done all they were given: the queue is empty,
        nothing is unacknowledged but what ``dead`` workers held, and every task a live worker
        received has ended (or is set to retry, its new message unacknowledged until it runs).

        Needed before a housekeeping sweep at a simulated later moment: sends are stamped with
        the moment they were planned, so housekeeping would take a live sender's rows for a
        dead one's (in production the clock moves for both)."""
        held = dead.unacked if dead else 0

        def quiet() -> bool:
            now = self.snapshot()
            return (now.queue == 0 and now.unacked <= held
                    and all(w.idle() for w in self.workers if w.process.poll() is None))

        wait_until(quiet, timeout=timeout, every=0.1)

    def snapshot(self) -> "Snapshot":
        broker = redis.Redis.from_url(self.settings.effective_broker_url)
        prefix = self.settings.redis_key_prefix
        with self.factory() as session:
            sending = set(session.scalars(select(Delivery.id)
                                          .where(Delivery.status == SENDING)))
        return Snapshot(int(broker.llen(f"{prefix}celery")),  # type: ignore[arg-type]
                        int(broker.hlen(f"{prefix}unacked")), sending)  # type: ignore[arg-type]

    def next_morning(self) -> Ledger:
        """Sweep the next morning and return the ledger then: what recovery deferred to the
        end of someone's quiet hours must have gone, once."""
        self.sweep(MORNING)
        self.wait_settled(MORNING)
        return self.ledger(MORNING)

    def assert_next_morning_clean(self, unknown: int) -> None:
        """The next morning nothing is deferred any more, and nothing else changed."""
        morning = self.next_morning()
        assert morning.duplicated == 0 and morning.lost == 0 and morning.problems == [], morning
        assert morning.deferred == 0 and morning.unknown == unknown, morning

    def statuses(self) -> Counter[str]:
        with self.factory() as session:
            return Counter(session.scalars(select(Delivery.status)))

    def ledger(self, end: datetime) -> Ledger:
        taken: Counter[int] = Counter()
        for peer in self.peers:
            taken.update(peer())
        return check(self.factory, self.settings.effective_outbox_file, end, taken)

    def worker_logs(self) -> str:
        return "".join(w.log.read_text() for w in self.workers)
