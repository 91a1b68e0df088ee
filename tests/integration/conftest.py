"""A real Celery worker (and beat) on Redis, with PostgreSQL, as separate processes.

Messages go through the file channel so the test can count what was actually sent, across
processes.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery

from coach.db import Base, get_engine
from coach.settings import Settings, get_settings
from tests.conftest import clear_redis
from tests.support.workers import Worker


@pytest.fixture
def pg_settings(postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    values = {"DATABASE_URL": postgres_url, "BROKER_URL": redis_url, "DATA_DIR": str(tmp_path),
              "REDIS_KEY_PREFIX": redis_prefix,
              "SMS_BACKEND": "file", "EMAIL_BACKEND": "file",
              "OUTBOX_FILE": str(tmp_path / "outbox.jsonl"), "ENV": "test",
              "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_BATCH_SIZE": "50"}
    for key, value in values.items():
        monkeypatch.setenv(f"COACH_{key}", value)
    get_settings.cache_clear()
    clear_redis(redis_url, redis_prefix)
    yield get_settings()
    get_settings.cache_clear()
    with get_engine(postgres_url).begin() as connection:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def worker(pg_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    with Worker(pg_settings, tmp_path / "worker.log") as started:
        yield started


@pytest.fixture
def worker_with_beat(pg_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    with Worker(pg_settings, tmp_path / "worker.log", beat=True) as started:
        yield started


@pytest.fixture
def client(pg_settings: Settings) -> Iterator[Celery]:
    """A producer of our own: the test enqueues tasks the way beat and the web app do."""
    app = Celery("coach-test", broker=pg_settings.effective_broker_url)
    app.conf.broker_transport_options = {"global_keyprefix": pg_settings.redis_key_prefix}
    yield app
    app.close()


def wait_until(predicate, timeout: float = 30, every: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")
