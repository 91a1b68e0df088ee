"""End to end: the web app in this process, a real Celery worker as a separate process on Redis
and PostgreSQL, and real peers for the channels: Prism serving Twilio's spec, and aiosmtpd.

The worker reads its settings from its environment, so each scenario sets the channel's
``COACH_*`` variables before its worker starts.

Fixtures of other folders are imported from their conftests, not copied; pytest serves them
here too ("x as x" tells ruff the import is on purpose): ``server`` (aiosmtpd), ``prism_url``,
and from the worker tests ``pg_settings`` (PostgreSQL and Redis, truncated after) and
``client``, a Celery producer on the worker's broker. The web app's client is ``*_web``.
"""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.programmes.services import publish_missing_builtins
from coach.settings import Settings, get_settings
from coach.web.app import create_app
from tests.channels_email.conftest import FROM, PUBLIC_URL, SECRET, Server
from tests.channels_email.conftest import certificate as certificate
from tests.channels_email.conftest import server as server
from tests.channels_email.conftest import start_server as start_server
from tests.channels_twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.channels_twilio.conftest import prism_url as prism_url
from tests.conftest import PROGRAMMES
from tests.email_in.conftest import SECRET as INBOUND_SECRET
from tests.integration.conftest import client as client
from tests.integration.conftest import pg_settings as pg_settings
from tests.integration.conftest import wait_until
from tests.support.http_peers import LocalServer
from tests.support.workers import Worker
from tests.web.support import Clock

SWEPT = "Task coach.sweep[{}] succeeded"


# What reached Twilio ---------------------------------------------------------------------------

@dataclass
class PrismTap:
    """A pass-through in front of Prism that records each request and Prism's answer.

    The worker is another process, so the SDK's own request hooks cannot be read from here:
    what reaches "Twilio" is seen on the wire instead. ``requests`` holds, for each, the path,
    the form fields, Prism's HTTP status and the message SID it gave.
    """

    upstream: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = LocalServer(_tap_handler(self))

    @property
    def url(self) -> str:
        return self.server.url

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def seen(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        self.server.stop()


def _tap_handler(tap: PrismTap) -> type[BaseHTTPRequestHandler]:
    forwarded = ("Authorization", "Content-Type", "Accept")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name: self.headers[name] for name in forwarded if self.headers[name]}
            request = urllib.request.Request(tap.upstream + self.path, data=body,
                                             headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status, kind, payload = answer.status, answer.headers["Content-Type"], \
                        answer.read()
            except urllib.error.HTTPError as error:
                with error:
                    status, kind, payload = error.code, error.headers["Content-Type"], \
                        error.read()
            sid = json.loads(payload).get("sid") if status < 300 else None
            tap.record({"path": self.path, "form": dict(parse_qsl(body.decode())),
                        "status": status, "sid": sid})
            self.send_response(status)
            self.send_header("Content-Type", kind or "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def prism_tap(prism_url: str) -> Iterator[PrismTap]:
    tap = PrismTap(prism_url)
    yield tap
    tap.stop()


# Settings, seen by this process and, through the environment, by the worker -----------------

def _use(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    """Set these ``COACH_*`` variables (the worker, started later, inherits them) and publish
    the built-in programmes."""
    for key, value in values.items():
        monkeypatch.setenv(f"COACH_{key}", value)
    get_settings.cache_clear()
    settings = get_settings()
    with session_factory(settings.effective_database_url).begin() as session:
        publish_missing_builtins(session, PROGRAMMES)
    return settings


@pytest.fixture
def sms_settings(pg_settings: Settings, prism_tap: PrismTap, redis_url: str,
                 monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Texts through the Twilio channel (the official SDK) to Prism, by way of the tap."""
    return _use(monkeypatch, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM=SENDER, TWILIO_API_URL=prism_tap.url,
                PUBLIC_URL=PUBLIC_URL, RATE_LIMIT_REDIS_URL=redis_url,
                SMS_RATE_PER_SECOND="1000")


@pytest.fixture
def email_settings(pg_settings: Settings, server: Server,
                   monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Email through the SMTP channel to the aiosmtpd server; replies in by the webhook."""
    return _use(monkeypatch, EMAIL_BACKEND="smtp", SMTP_URL=server.url(), EMAIL_FROM=FROM,
                PUBLIC_URL=PUBLIC_URL, SECRET_KEY=SECRET, INBOUND_EMAIL_SECRET=INBOUND_SECRET)


def _worker(settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    with Worker(settings, tmp_path / "worker.log") as started:
        yield started


@pytest.fixture
def sms_worker(sms_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    yield from _worker(sms_settings, tmp_path)


@pytest.fixture
def email_worker(email_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    yield from _worker(email_settings, tmp_path)


# The web app, handing its sends to the worker as the real one does --------------------------

@dataclass
class CeleryEnqueue:
    """The app's enqueue: ``coach.send`` through the broker to the worker, as
    ``coach/web/asgi.py`` does, stamped with the test's clock (the sender checks quiet hours
    at that moment). Records each batch, to show what the app handed over."""

    producer: Celery
    clock: Clock
    batches: list[list[int]] = field(default_factory=list)

    def __call__(self, ids: list[int]) -> None:
        self.batches.append(list(ids))
        self.producer.send_task("coach.send", args=[list(ids), self.clock().isoformat()])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def enqueue(client: Celery, clock: Clock) -> CeleryEnqueue:
    return CeleryEnqueue(client, clock)


def _web(settings: Settings, enqueue: CeleryEnqueue, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, enqueue, clock=clock), follow_redirects=False) as web:
        yield web


@pytest.fixture
def sms_web(sms_settings: Settings, enqueue: CeleryEnqueue, clock: Clock
            ) -> Iterator[TestClient]:
    yield from _web(sms_settings, enqueue, clock)


@pytest.fixture
def email_web(email_settings: Settings, enqueue: CeleryEnqueue, clock: Clock
              ) -> Iterator[TestClient]:
    yield from _web(email_settings, enqueue, clock)


# Driving the clock through the worker -----------------------------------------------------

def in_flight(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count(Delivery.id))
                              .where(Delivery.status.in_(["queued", "sending"]))) or 0


def sweep(producer: Celery, worker: Worker, factory: sessionmaker[Session],
          now: datetime) -> None:
    """One ``coach.sweep`` at a simulated moment, as tests/integration's ``_sweep_and_wait``
    sends it; then wait for this sweep's own success in the worker's log (a sweep with nothing
    due looks settled before it even ran) and for every send it handed over to finish."""
    task = producer.send_task("coach.sweep", kwargs={"now": now.isoformat()})
    wait_until(lambda: SWEPT.format(task.id) in worker.log.read_text())
    wait_until(lambda: in_flight(factory) == 0)

