"""The real channels through real workers: Twilio against Prism and SMTP against aiosmtpd.

Three runs on a database of their own, each from a full queue (the workers stop consuming, a
sweep fills the queue, then they resume):

- **rate**: SMS only, two ``celery -A tasks.app worker`` processes, ``COACH_SMS_RATE_PER_SECOND``
  = ``--sms-rate``, through a recording proxy in front of Prism, for ``--rate-seconds``: the rate
  Twilio would see, per 1 s window, the 429s, and how long rows sat claimed before they left;
  housekeeping runs as beat would (every ``BEAT_SECONDS``) and its marks are counted;
- **twilio**: the same SMS at ``--unthrottled-rate``, straight to Prism: the channel's own pace;
- **smtp**: email only, to an aiosmtpd relay in this process that counts what arrives.
"""

import bisect
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress

from bench.database import reset_due, versions_by_quality
from bench.peers import Recorder, Request, recording_proxy, running_relay
from bench.seed import conninfo_of, daytime_zones, seed
from bench.worker import WorkerOptions, cpu_seconds, node_name, running_worker
from coach.db import get_engine, session_factory
from coach.delivery.services import due_queued, mark_stale_sending, send_batch_size
from coach.scheduling.services import LOST_AFTER, STALE_SENDING, run_sweep
from coach.settings import get_settings
from tasks import jobs
from tasks.app import app as coach_app
from tests.support.prism import running_prism

# Valid-shaped credentials: the account is the one in the spec's examples (as the tests use).
ACCOUNT_SID, AUTH_TOKEN, SENDER = "AC" + "a" * 32, "0123456789abcdef" * 2, "+15005550006"
PUBLIC_URL = "https://coach.example.org"
EMAIL_FROM = "coach <coach@example.org>"
QUEUE = "celery"
BEAT_SECONDS = 10.0  # housekeeping during a run (beat runs it every minute)
STALL_SECONDS = 120
SLOW_DOWN = "%slow down%"  # coach.delivery.twilio_sms.refusal's words for a 429 / 20429


@dataclass
class RateRun:
    """What reached Prism while two workers shared a per-sender rate."""

    configured: float
    window: float  # seconds measured, from the first request
    workers: int
    concurrency: int
    times: list[float]  # arrival of every request, sorted (time.time())
    statuses: Counter[int]
    connections: Counter[tuple[str, int]]
    duplicates: int  # deliveries that reached Prism more than once
    held: list[float]  # per request: seconds between the row's claim and the request
    slow_down: int  # rows whose error says Twilio asked us to slow down
    outcome: dict[str, int]  # deliveries by status at the end
    marked_unknown: int  # by housekeeping during the run
    requeued: int  # by housekeeping during the run
    unknown_sent: int  # rows left "unknown" that were sent all the same (provider id set)
    worker_errors: int
    batch: int  # COACH_SEND_BATCH_SIZE: rows one send task claims at once

    @property
    def senders(self) -> int:
        return self.workers * self.concurrency

    @property
    def expected_hold(self) -> float:
        """How long the last row of a batch waits, claimed, for its slot: each sender gets
        rate / senders slots a second, and claims a whole batch before its first send."""
        return self.batch * self.senders / self.configured

    @property
    def overall(self) -> float:
        span = self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0
        return (len(self.times) - 1) / span if span else 0.0

    @property
    def in_window(self) -> int:
        return bisect.bisect_left(self.times, self.times[0] + self.window) if self.times else 0

    @property
    def covered(self) -> float:
        """Seconds of the window that had messages to send (less when the supply ran out)."""
        return min(self.window, self.times[-1] - self.times[0]) if self.times else 0.0

    @property
    def achieved(self) -> float:
        return self.in_window / self.window if self.times else 0.0

    @property
    def deviation(self) -> float:
        return self.achieved / self.configured - 1

    @property
    def within(self) -> bool:
        return abs(self.deviation) <= 0.05

    @property
    def per_window(self) -> list[int]:
        """Messages in each whole 1 s window [t0 + k, t0 + k + 1) of the measured window."""
        if not self.times:
            return []
        start = self.times[0]
        return [bisect.bisect_left(self.times, start + k + 1)
                - bisect.bisect_left(self.times, start + k) for k in range(int(self.window))]

    @property
    def max_sliding(self) -> int:
        """The most messages in any 1 s (a half-open window starting at any request)."""
        return max(self._sliding(), default=(0, 0.0))[0]

    @property
    def max_sliding_at(self) -> float:
        """Where the first such window starts, in seconds after the first request."""
        return 0.0 - max(self._sliding(), default=(0, 0.0))[1]  # never "-0.0"

    def _sliding(self) -> Iterator[tuple[int, float]]:
        start = self.times[0] if self.times else 0.0
        for i, t in enumerate(self.times):
            yield bisect.bisect_left(self.times, t + 1.0) - i, start - t  # ties: the earliest

    @property
    def lateness_ms(self) -> list[float]:
        """How late (or early, below 0) each request in the window reached Prism against an
        exact grid of 1 / rate, in ms, the grid placed at the median request. GCRA books slots
        exactly that far apart while the queue is full: this is the jitter after the booking
        (sleep, the HTTP round trip, a sender's first connection) that bunches requests."""
        times = self.times[:self.in_window]
        grid = [t - k / self.configured for k, t in enumerate(times)]
        base = statistics.median(grid) if grid else 0.0
        return [(g - base) * 1000 for g in grid]

    @property
    def http_429(self) -> int:
        return self.statuses.get(429, 0)

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 300)


@dataclass
class Drain:
    """``messages`` sent through a channel from a full queue, all done in ``seconds``."""

    channel: str
    messages: int
    seconds: float
    outcome: dict[str, int]
    received: int  # what the peer counted (-1: not counted)
    slow_down: int = 0
    worker_errors: int = 0
    cores: dict[str, float] = field(default_factory=dict)  # CPU seconds per second, by group

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass
class ChannelFigures:
    rate: RateRun | None = None
    twilio: Drain | None = None
    smtp: Drain | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Setup:
    url: str
    now: datetime
    subscribers: int  # seeded: odd ids on SMS, even ids on email
    env: dict[str, str]
    workers: int
    concurrency: int
    log: Path


def messages_needed(rate: float, seconds: float, batch: int) -> int:
    """SMS for a rate run: enough to last the window and a tenth, and two batches more."""
    return math.ceil(rate * seconds * 1.1) + 2 * batch


def measure(url: str, args: Any, env: dict[str, str], tmp: Path, console: Console,
            show: Callable[[RateRun | Drain], None]) -> ChannelFigures:
    """All three runs, each ``show``n as it ends; Prism, the proxy, the relay and every worker
    are stopped on the way out."""
    figures = ChannelFigures()
    per_channel = messages_needed(args.sms_rate, args.rate_seconds, args.send_batch_size)
    setup = _seeded(url, args, env, tmp, per_channel)
    console.print(f"channels: {setup.subscribers:,} subscribers ({per_channel:,} on SMS, as many"
                  f" on email) due at {setup.now:%H:%M} UTC; {args.channel_workers} workers of "
                  f"concurrency {args.channel_concurrency}")
    twilio = {"COACH_SMS_BACKEND": "twilio", "COACH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
              "COACH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "COACH_TWILIO_FROM": SENDER,
              "COACH_PUBLIC_URL": PUBLIC_URL, "COACH_RATE_LIMIT_REDIS_URL": args.redis_url}
    broker = redis.Redis.from_url(args.redis_url)
    try:
        with running_prism(tmp / "prism.log", answer_within=90) as (prism, prism_pid), \
                recording_proxy(prism) as (proxy, seen):
            rate_env = {**twilio, "COACH_TWILIO_API_URL": proxy,
                        "COACH_SMS_RATE_PER_SECOND": str(args.sms_rate)}
            figures.rate = rate_run(setup, rate_env, seen, args.rate_seconds, broker)
            show(figures.rate)
            with running_relay() as (smtp_url, relay):
                fast = {**twilio, "COACH_TWILIO_API_URL": prism,
                        "COACH_SMS_RATE_PER_SECOND": str(args.unthrottled_rate),
                        "COACH_EMAIL_BACKEND": "smtp", "COACH_SMTP_URL": smtp_url,
                        "COACH_EMAIL_FROM": EMAIL_FROM}
                with _workers(setup, fast, broker) as (names, pids):
                    processes = {"Prism": [prism_pid], "workers": pids}
                    figures.twilio = drain(setup, "sms", names, lambda: -1, processes)
                    show(figures.twilio)
                    figures.smtp = drain(setup, "email", names, lambda: len(relay.arrivals),
                                         processes)
                    show(figures.smtp)
    finally:
        broker.flushdb()
    return figures


def _seeded(url: str, args: Any, env: dict[str, str], tmp: Path, per_channel: int) -> Setup:
    """2 x ``per_channel`` subscribers due at this minute, in zones where it stays daytime for
    the next quarter of an hour (sends are checked against quiet hours again)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    zones = daytime_zones(now, lasting=timedelta(minutes=15))
    total = 2 * per_channel
    seed(conninfo_of(url), 1, total + 1, now, total + 1, versions_by_quality(url), zones)
    return Setup(url, now, total, env, args.channel_workers, args.channel_concurrency,
                 tmp / "channel-workers.log")


def rate_run(setup: Setup, extra: dict[str, str], seen: Recorder, window: float,
             broker: redis.Redis) -> RateRun:
    with _workers(setup, extra, broker) as (names, _):
        planned = _fill_queue(setup, "sms", names)
        seen.clear()
        _resume(names)
        housekeeping = _drain_until_done(setup.url, planned, "SMS at the configured rate",
                                         beat=True)
    requests = sorted(seen.messages(), key=lambda r: r.at)
    return RateRun(
        configured=float(extra["COACH_SMS_RATE_PER_SECOND"]), window=window,
        workers=setup.workers, concurrency=setup.concurrency, times=[r.at for r in requests],
        statuses=Counter(r.status for r in requests),
        connections=Counter(r.connection for r in requests),
        duplicates=sum(1 for n in Counter(r.delivery for r in requests).values() if n > 1),
        held=_held(setup.url, requests), slow_down=_slow_down(setup.url),
        outcome=status_counts(setup.url), marked_unknown=housekeeping[0],
        requeued=housekeeping[1], unknown_sent=_unknown_sent(setup.url),
        worker_errors=_errors(setup.log),
        batch=_sms_batch(float(extra["COACH_SMS_RATE_PER_SECOND"])))


def _sms_batch(rate: float) -> int:
    """The rows an SMS send task claims at this rate, as the workers size it."""
    workers = get_settings().model_copy(update={"sms_backend": "twilio",
                                               "sms_rate_per_second": rate})
    return send_batch_size("sms", workers)


def drain(setup: Setup, channel: str, names: list[str], received: Callable[[], int],
          processes: dict[str, list[int]]) -> Drain:
    """Every due message of one channel from a full queue: messages/s until all have left,
    and the cores each group of ``processes`` (and this process: the relay) used meanwhile."""
    errors_before = _errors(setup.log)
    planned = _fill_queue(setup, channel, names)
    cpu_before = _cpu(processes)
    started = _resume(names)
    _drain_until_done(setup.url, planned, f"{channel} as fast as it goes", beat=False)
    seconds = time.perf_counter() - started
    cpu = {name: (used - cpu_before[name]) / seconds for name, used in _cpu(processes).items()}
    _pause(names)
    outcome = status_counts(setup.url)
    return Drain(channel, outcome.get("sent", 0), seconds, outcome, received(),
                 _slow_down(setup.url), _errors(setup.log) - errors_before, cpu)


def _cpu(processes: dict[str, list[int]]) -> dict[str, float]:
    used = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}
    return {**used, "bench": time.process_time()}


@contextmanager
def _workers(setup: Setup, extra: dict[str, str],
             broker: redis.Redis) -> Iterator[tuple[list[str], list[int]]]:
    """``setup.workers`` separate worker processes with these settings, not consuming yet;
    yields their node names and pids."""
    broker.flushdb()  # an empty queue, and no rate booked from a run before
    options = WorkerOptions(setup.concurrency, {**setup.env, **extra}, setup.log)
    with ExitStack() as stack:
        names, pids = [], []
        for number in range(1, setup.workers + 1):
            tag = f"channels{number}"
            pids.append(stack.enter_context(running_worker("tasks.app", coach_app, options, tag)))
            names.append(node_name("tasks.app", tag))
        _pause(names)
        yield names, pids
    broker.flushdb()


def _fill_queue(setup: Setup, channel: str, names: list[str]) -> int:
    """Only ``channel``'s subscribers due; a sweep enqueues their sends (nobody consumes)."""
    reset_due(setup.url, setup.subscribers, setup.now)
    with get_engine(setup.url).begin() as connection:
        connection.execute(sa.text(
            "UPDATE enrolments AS e SET next_due_at = :later FROM subscribers AS s "
            "WHERE s.id = e.subscriber_id AND s.preferred_channel <> :channel"),
            {"later": (setup.now + timedelta(days=1)).replace(tzinfo=None), "channel": channel})
    result = run_sweep(setup.now, get_settings(), lambda ids: jobs.send.delay(ids))
    return int(result["planned"])


def _pause(names: list[str]) -> None:
    """The workers stop taking tasks from the queue (they still answer control messages)."""
    replies = coach_app.control.cancel_consumer(QUEUE, reply=True, destination=names, timeout=5)
    if len(replies or []) < len(names):
        raise RuntimeError(f"only {len(replies or [])} of {len(names)} workers stopped consuming")


def _resume(names: list[str]) -> float:
    started = time.perf_counter()
    coach_app.control.add_consumer(QUEUE, reply=True, destination=names, timeout=5)
    return started


IN_FLIGHT = """
SELECT count(*) FILTER (WHERE status = 'sending'),
       count(*) FILTER (WHERE status = 'queued' AND send_after IS NULL),
       count(*) FILTER (WHERE status NOT IN ('queued', 'sending')),
       count(provider_id)
FROM deliveries
"""


def _drain_until_done(url: str, planned: int, label: str, beat: bool) -> tuple[int, int]:
    """Poll the outbox until no row is claimed or waiting for its first try (retries and
    deferrals wait for later, and are reported). With ``beat``, housekeeping runs every
    BEAT_SECONDS as beat's sweep would; returns (rows it marked unknown, rows it requeued)."""
    engine, factory = get_engine(url), session_factory(url)
    marked, requeued, next_beat = 0, 0, time.monotonic() + BEAT_SECONDS
    last, last_change = (-1, -1), time.monotonic()
    with Progress(transient=True) as progress:
        bar = progress.add_task(label, total=planned)
        while True:
            with engine.connect() as connection:
                sending, waiting, done, sent = connection.execute(sa.text(IN_FLIGHT)).one()
            progress.update(bar, completed=done)
            if not sending and not waiting:
                return marked, requeued
            if beat and time.monotonic() >= next_beat:
                next_beat += BEAT_SECONDS
                unknown, lost = _housekeeping(factory)
                marked, requeued = marked + unknown, requeued + lost
            # A row marked unknown while its sender still holds it is sent all the same (its
            # provider id is set, its status stays): that is progress too.
            if (done, sent) != last:
                last, last_change = (done, sent), time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                raise RuntimeError(f"stalled at {done:,}/{planned:,} done: {status_counts(url)}")
            time.sleep(0.2)


def _housekeeping(factory: Any) -> tuple[int, int]:
    """What beat's sweep does first: stale claims marked unknown, lost or due rows requeued."""
    now = datetime.now(UTC)
    with factory.begin() as session:
        unknown = mark_stale_sending(session, now, STALE_SENDING)
        lost = due_queued(session, now, LOST_AFTER, get_settings().sweep_batch_size)
    size = get_settings().send_batch_size
    for start in range(0, len(lost), size):
        jobs.send.delay(lost[start:start + size])
    return unknown, len(lost)


def _held(url: str, requests: list[Request]) -> list[float]:
    """Seconds each message's row sat claimed (``sending``) before its request reached Prism."""
    with get_engine(url).connect() as connection:
        claimed: dict[int, datetime] = dict(connection.execute(sa.text(
            "SELECT id, claimed_at FROM deliveries WHERE claimed_at IS NOT NULL")).tuples().all())
    held = []
    for request in requests:
        at = None if request.delivery is None else claimed.get(request.delivery)
        if at is not None:
            held.append(request.at - at.replace(tzinfo=UTC).timestamp())
    return held


def _unknown_sent(url: str) -> int:
    with get_engine(url).connect() as connection:
        return connection.scalar(sa.text(
            "SELECT count(*) FROM deliveries WHERE status = 'unknown' AND provider_id IS NOT NULL"
        )) or 0


def _slow_down(url: str) -> int:
    with get_engine(url).connect() as connection:
        return connection.scalar(sa.text("SELECT count(*) FROM deliveries WHERE error ILIKE :s"),
                                 {"s": SLOW_DOWN}) or 0


def status_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT status, count(*) FROM deliveries GROUP BY status ORDER BY status"))
        return {status: count for status, count in rows}


def _errors(log: Path) -> int:
    """ERROR / CRITICAL lines the workers wrote (their log is at WARNING)."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if "ERROR" in line or "CRITICAL" in line)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
