"""Through a real Celery worker: coach end to end (sweep -> send.delay -> console channel), the
send path alone from a full queue, and bare no-op tasks with the same worker settings."""

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from celery import Celery
from rich.progress import Progress

from bench import noop
from bench.database import count_sent, status_counts
from bench.worker import Memory, memory
from coach.db import get_engine
from coach.scheduling.services import run_sweep
from coach.settings import Settings
from tasks import jobs

STALL_SECONDS = 120
QUEUE = "celery"


@dataclass
class Run:
    """``messages`` carried by ``tasks`` tasks, all done in ``seconds``."""

    messages: int
    tasks: int
    seconds: float
    sweep_seconds: float = 0.0
    memory: dict[str, Memory] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def tasks_per_second(self) -> float:
        return self.tasks / self.seconds


def end_to_end(settings: Settings, now: datetime, expected: int, pid: int,
               checkpoints: list[int], sweepers: int = 1) -> Run:
    """From the start of the sweep (enqueuing as it goes) until every delivery is ``sent``.
    With ``sweepers`` > 1, as a busy minute runs: that many sweeps of the same moment at once,
    in processes of their own, sharing the work (SKIP LOCKED) as beat's sweep and its helpers
    do on the workers."""
    marks = {"worker ready": memory(pid)}
    started = time.perf_counter()
    sweep = _in_thread(lambda: _sweeps_enqueuing(settings, now, sweepers))
    _wait_all_sent(settings.effective_database_url, expected, sweep, pid, checkpoints, marks)
    seconds = time.perf_counter() - started
    marks[f"after {expected:,} messages"] = memory(pid)
    tasks = int(sweep.result["tasks"]) if sweep.result else 0
    return Run(sweep.planned or 0, tasks, seconds, sweep.seconds, marks)


def queued_sends(settings: Settings, now: datetime, expected: int, app: Celery) -> Run:
    """The send path alone: the sweep enqueues everything while the worker is not consuming,
    then the clock runs from resuming consumption until every delivery is ``sent``."""
    tasks: list[int] = []
    _pause(app)
    sweep = _in_thread(lambda: _sweep_enqueuing(settings, now, tasks))
    sweep.join()
    started = _resume(app)
    _wait_all_sent(settings.effective_database_url, expected, sweep, 0, [], {})
    return Run(sweep.planned or 0, len(tasks), time.perf_counter() - started)


def bare_celery(count: int, batch: int, broker_url: str) -> Run:
    """``count`` no-op tasks, each with ``batch`` ids like coach.send, queued while the worker
    is not consuming; timed from resuming until the queue and the unacked set are empty."""
    ids = list(range(batch))
    broker = redis.Redis.from_url(broker_url)
    _pause(noop.app)
    for _ in range(count):
        noop.noop.delay(ids)
    started = _resume(noop.app)
    while broker.llen(QUEUE) or broker.hlen("unacked"):
        time.sleep(0.01)
    return Run(count * batch, count, time.perf_counter() - started)


def _pause(app: Celery) -> None:
    """The worker stops taking tasks from the queue (it still answers control messages)."""
    app.control.cancel_consumer(QUEUE, reply=True, limit=1, timeout=5)


def _resume(app: Celery) -> float:
    """The worker takes tasks again; returns the moment it was told to."""
    started = time.perf_counter()
    app.control.add_consumer(QUEUE, reply=True, limit=1, timeout=5)
    return started


def _sweep_enqueuing(settings: Settings, now: datetime, tasks: list[int],
                     housekeeping: bool = True) -> dict[str, Any]:
    def enqueue(ids: list[int]) -> None:
        jobs.send.delay(ids)
        tasks.append(len(ids))

    return run_sweep(now, settings, enqueue, housekeeping=housekeeping)


def _sweeps_enqueuing(settings: Settings, now: datetime, sweepers: int) -> dict[str, Any]:
    if sweepers == 1:
        tasks: list[int] = []
        return {**_sweep_enqueuing(settings, now, tasks), "tasks": len(tasks)}
    get_engine(settings.effective_database_url).dispose()  # no connection crosses the fork
    with multiprocessing.get_context("fork").Pool(sweepers) as pool:
        results = pool.starmap(_one_of_many, [(settings, now, n == 0) for n in range(sweepers)])
    return {"planned": sum(planned for planned, _ in results),
            "tasks": sum(tasks for _, tasks in results)}


def _one_of_many(settings: Settings, now: datetime, housekeeping: bool) -> tuple[int, int]:
    """One of several sweeps at once (the first also does housekeeping, as beat's does)."""
    tasks: list[int] = []
    result = _sweep_enqueuing(settings, now, tasks, housekeeping)
    return int(result["planned"]), len(tasks)


def _wait_all_sent(url: str, expected: int, sweep: "_Thread", pid: int, checkpoints: list[int],
                   marks: dict[str, Memory]) -> None:
    """Poll the outbox until the sweep has finished and all it planned is sent; take the
    worker's memory as ``sent`` passes each checkpoint."""
    pending = sorted(c for c in checkpoints if c < expected)
    last, last_change = -1, time.monotonic()
    with Progress(transient=True) as progress:
        bar = progress.add_task("sending through the worker", total=expected)
        while True:
            sent = count_sent(url)
            progress.update(bar, completed=sent)
            while pending and sent >= pending[0]:
                marks[f"after {pending.pop(0):,} messages"] = memory(pid)
            if sweep.planned is not None and sent >= sweep.planned:
                return
            if sent != last:
                last, last_change = sent, time.monotonic()
            if sweep.error or time.monotonic() - last_change > STALL_SECONDS:
                raise RuntimeError(f"stalled at {sent:,}/{expected:,} sent: {status_counts(url)}"
                                   f" (sweep error: {sweep.error!r})")
            time.sleep(0.2)


class _Thread(threading.Thread):
    """A thread that keeps its function's result or error, and how long it ran."""

    def __init__(self, function: Callable[[], dict[str, Any]]):
        super().__init__(daemon=True)
        self.function = function
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.result = self.function()
        except BaseException as error:  # reported by the waiting thread
            self.error = error
        self.seconds = time.perf_counter() - started

    @property
    def planned(self) -> int | None:
        """How many deliveries the sweep planned, once it has finished."""
        return None if self.result is None else int(self.result["planned"])


def _in_thread(function: Callable[[], dict[str, Any]]) -> _Thread:
    thread = _Thread(function)
    thread.start()
    return thread
