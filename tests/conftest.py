"""Shared fixtures: real databases (SQLite and PostgreSQL), real Redis, settings per test.

Tests that need PostgreSQL or Redis skip with a clear message when run by hand without them,
and fail loudly in CI (CI=true), where a missing service is a broken machine, not a pass.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from coach.db import Base, get_engine, session_factory
from coach.delivery.channels import MemoryChannel
from coach.migrate import upgrade
from coach.programmes.services import publish_missing_builtins
from coach.settings import PROJECT_ROOT, Settings, get_settings

POSTGRES_URL = os.environ.get("COACH_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("COACH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytest_plugins = ["tests.privacy"]

PROGRAMMES = PROJECT_ROOT / "templates" / "programmes"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, before the March DST changes


def need_service(name: str, problem: Exception) -> None:
    message = f"{name} is not reachable ({problem}); start it (see README: Services)"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated with Alembic."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"coach_test_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        need_service("PostgreSQL", error)
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    get_engine(url).dispose()
    get_engine.cache_clear()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    get_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "coach.sqlite3"
        path.write_bytes(request.getfixturevalue("sqlite_template").read_bytes())
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    with get_engine(url).begin() as connection:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for this test, also visible to code that calls get_settings() (the CLI)."""
    values = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "SMS_BACKEND": "memory",
              "EMAIL_BACKEND": "memory", "ENV": "test"}
    for key, value in values.items():
        monkeypatch.setenv(f"COACH_{key}", value)
    get_settings.cache_clear()
    MemoryChannel.sent.clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def factory(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.effective_database_url)


@pytest.fixture
def published(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        publish_missing_builtins(session, PROGRAMMES)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError as error:
        need_service("Redis", error)
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """This test run's own keys in the shared Redis (COACH_REDIS_KEY_PREFIX): two runs on one
    machine, or a developer's Redis, never see each other's queues and counts."""
    prefix = f"coach-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    clear_redis(redis_url, prefix)


def clear_redis(url: str, prefix: str) -> None:
    """Delete this run's keys, and only them."""
    import redis

    client = redis.Redis.from_url(url)
    for batch in _batches(client.scan_iter(match=f"{prefix}*", count=1000), 1000):
        client.delete(*batch)


def _batches(keys: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
