"""The embedded default (a SQLite file) under faults of its own: another writer holding the
database's lock, and a full disk. Driven in this process at simulated moments: the faults are
the database's, not the workers'.
"""

import errno
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from coach.db import get_engine
from coach.delivery.channels import FileChannel, OutgoingMessage
from coach.delivery.models import SENDING, Delivery
from coach.delivery.sending import RECOVERABLE, send_deliveries
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.scheduling import plan
from coach.scheduling.models import Enrolment
from coach.scheduling.services import DatabaseFull, run_sweep
from coach.settings import Settings, get_settings
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, MORNING, RECOVERY, FaultRun
from tests.helpers import reply, tick
from tests.privacy import MARKER

# Shorter than SQLite's 30 s in production, so "longer than the busy timeout" is a second.
BUSY_MS = 200
SMALL_DISK = "8m"
# The burst of replies while the lock is held: (person, words), each with its provider id.
REPLIED, RETRIED = DUE + timedelta(seconds=20), DUE + timedelta(seconds=40)
REPLIES = [(f"person{n}@example.org", "2" if n % 4 else "STOP") for n in range(10, 30, 2)]


@pytest.fixture
def embedded(sqlite_template: Path, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultRun]:
    yield from _embedded_run(sqlite_template, tmp_path, tmp_path, monkeypatch)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system of its own, small enough to fill in a moment (tmpfs: mounting needs
    root, as on the CI machines)."""
    if os.geteuid() != 0:
        pytest.skip("a small file system is mounted with tmpfs, which needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(mount)],
                   check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def on_small_disk(sqlite_template: Path, small_disk: Path, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultRun]:
    yield from _embedded_run(sqlite_template, small_disk, tmp_path, monkeypatch)


def _embedded_run(sqlite_template: Path, database_dir: Path, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultRun]:
    """A fault run on a SQLite file in ``database_dir`` and the file channel (in
    ``tmp_path``), with a short busy timeout."""
    database = database_dir / "coach.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    values = {"DATABASE_URL": f"sqlite:///{database}", "DATA_DIR": str(tmp_path),
              "SMS_BACKEND": "file", "EMAIL_BACKEND": "file", "ENV": "test",
              "OUTBOX_FILE": str(tmp_path / "outbox.jsonl"), "SEND_BATCH_SIZE": "10"}
    for key, value in values.items():
        monkeypatch.setenv(f"COACH_{key}", value)
    get_settings.cache_clear()
    engine = get_engine(get_settings().effective_database_url)
    event.listen(engine, "connect", _short_busy_timeout)
    plan.forget_programmes()
    # In this process: nothing is enqueued, so the producer is never connected.
    yield FaultRun(get_settings(), Celery("unused", broker="memory://"), tmp_path)
    engine.dispose()
    get_settings.cache_clear()


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_MS}")


class Locker:
    """Another process's writer: ``BEGIN IMMEDIATE`` takes the database's write lock and keeps
    it until :meth:`release`."""

    def __init__(self, settings: Settings):
        path = settings.effective_database_url.removeprefix("sqlite:///")
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.held = False

    def hold(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


@pytest.mark.faults
def test_sqlite_locked_under_a_burst_then_the_lock_goes(
        embedded: FaultRun, record: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded.populate(people=40, opt_outs=2)
    batches: list[list[int]] = []
    run_sweep(DUE, embedded.settings, batches.append)
    locker = Locker(embedded.settings)
    _lock_after_first_message(monkeypatch, locker)
    record.start_clock()
    with pytest.raises(RECOVERABLE, match="database is locked"):  # mid-batch: the send retries
        send_deliveries(batches[0], DUE, embedded.settings)
    statuses = embedded.statuses()
    for batch in batches[1:]:  # the rest of the burst: each send task fails before claiming
        _refused(partial(send_deliveries, batch, DUE, embedded.settings))
    for number, (sender, words) in enumerate(REPLIES):  # webhooks answer 500, to be retried
        _refused(partial(reply, embedded.factory, embedded.settings, sender, words, REPLIED,
                         f"SM{number}"))
    _refused(partial(run_sweep, DUE, embedded.settings, batches.append))  # beat's next minute
    assert embedded.statuses() == statuses, "nothing changed while the lock was held"
    assert statuses[SENDING] == len(batches[0]), "the first batch, claimed, was left sending"
    locker.release()
    for _ in range(2):  # each webhook retried, once more than needed
        for number, (sender, words) in enumerate(REPLIES):
            reply(embedded.factory, embedded.settings, sender, words, REPLIED, f"SM{number}")
    assert _replies_by_provider_id(embedded) == {f"SM{n}": 1 for n in range(len(REPLIES))}
    for batch in batches:  # each send task's retry: the first batch's rows are not its own now
        send_deliveries(batch, RETRIED, embedded.settings)
    tick(embedded.settings, RECOVERY)  # housekeeping: the unfinished batch, queued again
    ledger = embedded.ledger(RECOVERY)
    record("SQLite locked under a burst", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0 and ledger.problems == [], ledger
    # Unknown at most: the messages in flight when the lock came, which went; never resent.
    assert ledger.unknown == ledger.reconciled <= len(batches[0]), ledger
    tick(embedded.settings, MORNING)
    morning = embedded.ledger(MORNING)
    assert morning.duplicated == 0 and morning.lost == 0 and morning.problems == [], morning
    assert morning.deferred == 0 and morning.unknown == ledger.unknown, morning


def _lock_after_first_message(monkeypatch: pytest.MonkeyPatch, locker: Locker) -> None:
    """The lock is taken right after the next message goes: between the provider call and the
    record of its outcome."""
    real = FileChannel.send

    def send(channel: FileChannel, message: OutgoingMessage) -> str:
        provider_id = real(channel, message)
        if not locker.held:
            locker.hold()
        return provider_id

    monkeypatch.setattr(FileChannel, "send", send)


def _refused(attempt: Callable[[], object]) -> None:
    with pytest.raises(OperationalError, match="database is locked"):
        attempt()


def _replies_by_provider_id(run: FaultRun) -> dict[str, int]:
    with run.factory() as session:
        rows = session.execute(select(Reply.provider_id, func.count(Reply.id))
                               .group_by(Reply.provider_id))
        return {str(provider_id): count for provider_id, count in rows if provider_id}



@pytest.mark.faults
def test_disk_full_says_what_to_do_and_leaves_nothing_half_done(on_small_disk: FaultRun,
                                                                record: Recorder) -> None:
    run, database = on_small_disk, on_small_disk.settings.effective_database_url
    run.populate(people=40, opt_outs=2)
    before = _snapshot(run)
    filler = _fill_the_disk(run)
    record.start_clock()
    with pytest.raises(DatabaseFull, match="free space on the disk") as refused:
        run_sweep(DUE, run.settings, lambda ids: None)
    assert database.removeprefix("sqlite:///") in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert _snapshot(run) == before, "nothing was planned, nothing advanced"
    filler.unlink()
    batches: list[list[int]] = []
    run_sweep(DUE, run.settings, batches.append)  # beat's next minute, with room again
    filler = _fill_the_disk(run)
    statuses, lines = run.statuses(), run.sent_lines()
    for batch in batches:  # each send task fails whole, and retries
        with pytest.raises(RECOVERABLE, match="database or disk is full"):
            send_deliveries(batch, DUE, run.settings)
    assert run.statuses() == statuses and run.sent_lines() == lines
    filler.unlink()
    for batch in batches:
        send_deliveries(batch, DUE, run.settings)
    ledger = run.ledger(DUE)
    record("SQLite disk full", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0 and ledger.problems == [], ledger
    assert ledger.sent == ledger.planned == 38 + 2, "the welcomes and the STOPs' confirmations"


def _fill_the_disk(run: FaultRun) -> Path:
    """Empty the write-ahead log into the database, then fill what is left of the disk: the
    next write needs a page the disk does not have."""
    with get_engine(run.settings.effective_database_url).connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = Path(run.settings.effective_database_url.removeprefix("sqlite:///")).with_name(
        "filler")
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


def _snapshot(run: FaultRun) -> tuple[object, ...]:
    """Every enrolment's progress, and how many outbox rows and events there are."""
    with run.factory() as session:
        progress = [tuple(row) for row in session.execute(
            select(Enrolment.id, Enrolment.step, Enrolment.next_due_at).order_by(Enrolment.id))]
        return (progress, session.scalar(select(func.count(Delivery.id))),
                session.scalar(select(func.count(Event.id))))


def test_a_reply_refused_by_a_locked_database_keeps_its_words_out_of_the_error(
        embedded: FaultRun) -> None:
    embedded.populate(people=2, opt_outs=0)
    locker = Locker(embedded.settings)
    locker.hold()
    try:
        with pytest.raises(OperationalError, match="database is locked") as refused:
            reply(embedded.factory, embedded.settings, "person0@example.org", MARKER, DUE)
    finally:
        locker.release()
    assert MARKER not in str(refused.value)
