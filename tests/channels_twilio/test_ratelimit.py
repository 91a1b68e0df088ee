"""The per-sender rate, shared through Redis: processes together never exceed it."""

import multiprocessing
import time
import uuid
from typing import Any

import pytest

from coach.delivery.ratelimit import RateLimiter, SenderBusy, redis_url_for
from coach.settings import Settings

RATE = 20  # sends per second
SECONDS = 2.5
# How late a busy machine may wake a process from its sleep. A late send can bunch up with the
# next ones by that much; two processes not sharing the rate would bunch by half a second.
JITTER = 0.25


def _acquire_for(redis_url: str, sender: str, start: Any, results: Any) -> None:
    """One worker process: take every slot it can for SECONDS, reporting when it got each."""
    limiter = RateLimiter(redis_url, sender, RATE)
    start.wait(timeout=30)
    granted, end = [], time.time() + SECONDS
    while time.time() < end:
        limiter.acquire()
        granted.append(time.time())
    limiter.close()
    results.put(granted)


def test_two_processes_together_never_exceed_the_rate(redis_url):
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    sender = f"+1555{uuid.uuid4().int % 10**7:07d}"
    workers = [context.Process(target=_acquire_for, args=(redis_url, sender, start, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        first, second = results.get(timeout=60), results.get(timeout=60)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
    times = sorted(first + second)
    # No window of one second (less the jitter) holds more than RATE sends, from either.
    crowded = [b - a for a, b in zip(times, times[RATE:], strict=False) if b - a < 1 - JITTER]
    assert crowded == [], f"{RATE + 1} sends within {min(crowded):.3f} s"
    assert len(times) <= RATE * (times[-1] - times[0] + JITTER) + 1, "over the whole run too"
    assert min(len(first), len(second)) > RATE / 2, "both processes sent, sharing the rate"


def test_a_slot_too_far_away_is_refused_and_not_booked(redis_url):
    limiter = RateLimiter(redis_url, f"+1555{uuid.uuid4().int % 10**7:07d}", 1, max_wait=0.5)
    assert limiter.acquire() == 0  # an idle sender goes at once
    with pytest.raises(SenderBusy) as busy:
        limiter.acquire()
    with pytest.raises(SenderBusy) as again:
        limiter.acquire()
    assert 0.5 < again.value.wait_seconds <= busy.value.wait_seconds <= 1, "nothing was booked"
    limiter.close()


def test_each_sender_has_its_own_rate(redis_url):
    one = RateLimiter(redis_url, f"MG{uuid.uuid4().hex}", 1, max_wait=0)
    other = RateLimiter(redis_url, f"MG{uuid.uuid4().hex}", 1, max_wait=0)
    assert (one.acquire(), other.acquire()) == (0, 0)
    with pytest.raises(SenderBusy):
        one.acquire()
    one.close()
    other.close()


@pytest.mark.parametrize("values, expected", [
    ({}, None),
    ({"broker_url": "redis://broker:6379/0"}, "redis://broker:6379/0"),
    ({"broker_url": "redis://broker:6379/0", "rate_limit_redis_url": "redis://rl:6379/2"},
     "redis://rl:6379/2"),
    ({"broker_url": "amqp://rabbit//"}, None),
])
def test_the_rate_is_kept_in_its_own_redis_or_the_brokers(tmp_path, values, expected):
    assert redis_url_for(Settings(data_dir=tmp_path, **values)) == expected
