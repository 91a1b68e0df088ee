"""python -m bench.webhook: the inbound SMS webhook's latency under 50 concurrent signed
requests (p50 and p99), with a real uvicorn process on PostgreSQL.

Seeds people enrolled by SMS (half of them with a check-in open, so replies are read in every
context), then posts replies from the corpus's train and dev splits (never the test split) as
Twilio would: form fields, ``X-Twilio-Signature`` over the public URL, a new MessageSid each.
Answers go to a Redis database of their own (14, flushed before and after); no worker runs, so
the figure is the web path alone: signature, one read of the reply, the decision, the answer
in TwiML.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx2 as httpx
import redis
from twilio.request_validator import RequestValidator

from bench.database import throwaway_database
from coach.db import session_factory
from coach.inbound.understanding.corpus import read_split
from coach.scheduling.enrol import subscribe
from coach.scheduling.pacing import AWAITING
from coach.settings import PROJECT_ROOT
from coach.subscribers.services import SignUp
from tests.support.ports import free_port

TOKEN = "0123456789abcdef0123456789abcdef"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook", description=__doc__)
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres-url", default=ADMIN_URL)
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        with throwaway_database(args.postgres_url) as url:
            phones = _seed(url, args.people)
            with TemporaryDirectory(prefix="coach-bench-web-") as folder:
                run(url, phones, args, Path(folder))
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()


def _seed(url: str, people: int) -> list[str]:
    factory, start = session_factory(url), datetime.now(UTC) - timedelta(days=8)
    phones = [f"+1202555{n:04d}" for n in range(people)]
    with factory.begin() as session:
        for n, phone in enumerate(phones):
            _, enrolment = subscribe(session, SignUp("honesty", "America/New_York", phone=phone,
                                                     send_time="18:00"), start)
            if n % 2:  # a check-in open: the w1 question, answered in words
                enrolment.state, enrolment.awaiting_step = AWAITING, 3
                enrolment.awaiting_since = start
    return phones


def run(url: str, phones: list[str], args: argparse.Namespace, folder: Path) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COACH_")},
           "COACH_ENV": "test", "COACH_DATABASE_URL": url, "COACH_BROKER_URL": REDIS_URL,
           "COACH_DATA_DIR": str(folder), "COACH_TWILIO_AUTH_TOKEN": TOKEN,
           "COACH_PUBLIC_URL": public, "COACH_RATE_LIMIT_WEBHOOKS": "1000000/minute"}
    log = (folder / "uvicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "coach.web.asgi:app", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(public)
        texts = [row.text for split in ("train", "dev") for row in read_split(split)]
        latencies, elapsed, codes = asyncio.run(_post_all(public, phones, texts, args))
        _report(latencies, elapsed, codes, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_for(public: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{public}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the web app did not start within 30 s")


async def _post_all(public: str, phones: list[str], texts: list[str],
                    args: argparse.Namespace) -> tuple[list[float], float, dict[int, int]]:
    validator, path = RequestValidator(TOKEN), "/hooks/twilio/sms"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(args.requests):
        queue.put_nowait(n)
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            form = {"From": phones[n % len(phones)], "To": "+15005550006",
                    "Body": texts[n % len(texts)], "MessageSid": f"SM{n:032x}",
                    "AccountSid": "AC" + "a" * 32}
            signature = validator.compute_signature(public + path, form)
            started = time.perf_counter()
            response = await client.post(path, data=form,
                                         headers={"X-Twilio-Signature": signature})
            latencies.append(time.perf_counter() - started)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=public, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(args.concurrency)))
        return latencies, time.perf_counter() - started, codes


def _report(latencies: list[float], elapsed: float, codes: dict[int, int],
            args: argparse.Namespace) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"inbound SMS webhook, {args.requests:,} signed requests, {args.concurrency} at once, "
          f"one uvicorn process on PostgreSQL")
    print(f"  p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
    print(f"  {len(latencies) / elapsed:,.0f} requests/s; answers: {codes}")


if __name__ == "__main__":
    main()
