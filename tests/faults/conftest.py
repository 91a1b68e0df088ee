"""The fault suite: real workers on Redis and PostgreSQL, one injected fault per scenario, then
the ledger (tests/faults/ledger.py).

Scenarios marked ``faults`` take a minute or more each, so they run only when asked for:
``make faults`` (which sets ``COACH_FAULTS=1``) or a ``-m`` expression naming ``faults``.
Unmarked scenarios here (the poison task, an SMTP connection dropped after a message's end,
STOP mid-batch) are the short subset of the default run. A hook, rather than ``-m "not
faults"`` in ``addopts``: any ``-m`` given on the command line replaces that one, so
``pytest -m worker`` would have run the whole fault suite.

Each scenario records its ledger's figures; at the end of the session a table of them is
printed (``pytest_terminal_summary``).
"""

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter
from celery import Celery

from coach.scheduling import plan
from coach.settings import Settings
from tests.faults.ledger import Ledger
from tests.faults.peers import SmtpPeer, Webhooks
from tests.faults.run import DUE, FaultRun
from tests.integration.conftest import client, pg_settings  # noqa: F401 (fixtures used here)
from tests.support.fake_twilio import FakeTwilio
from tests.web.support import Clock

COLUMNS = ("fault", "planned", "sent", "duplicated", "lost", "unknown", "reconciled",
           "deferred", "failed", "recovery s")


@dataclass
class Row:
    fault: str
    ledger: Ledger
    recovery_seconds: float


_ROWS = pytest.StashKey[list[Row]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COACH_FAULTS") or "faults" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="the fault suite runs with `make faults` or `-m faults`")
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(skip)


@pytest.fixture
def fault_run(pg_settings: Settings, client: Celery,  # noqa: F811 (the fixtures above)
              tmp_path: Path) -> Iterator[FaultRun]:
    plan.forget_programmes()  # a fresh database numbers programme versions from 1 again
    run = FaultRun(pg_settings, client, tmp_path)
    yield run
    run.stop_workers()


@pytest.fixture
def twilio_peer() -> Iterator[FakeTwilio]:
    peer = FakeTwilio()
    yield peer
    peer.stop()


@pytest.fixture
def smtp_peer() -> Iterator[SmtpPeer]:
    peer = SmtpPeer()
    yield peer
    peer.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(DUE)


@pytest.fixture
def webhooks(pg_settings: Settings, client: Celery,  # noqa: F811 (the fixtures above)
             clock: Clock) -> Iterator[Webhooks]:
    """The web app on a port; what it plans goes to the workers stamped with its clock."""
    def enqueue(ids: list[int]) -> None:
        client.send_task("coach.send", args=[ids, clock.now.isoformat()])

    hooks = Webhooks(pg_settings, enqueue, clock)
    yield hooks
    hooks.stop()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> "Recorder":
    return Recorder(request.config)


class Recorder:
    """A scenario's line in the table: its ledger and how long recovery took."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.began = time.monotonic()

    def start_clock(self) -> None:
        """The fault is injected now: recovery is timed from here."""
        self.began = time.monotonic()

    def __call__(self, fault: str, ledger: Ledger) -> None:
        rows = self.config.stash.setdefault(_ROWS, [])
        rows.append(Row(fault, ledger, time.monotonic() - self.began))


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    rows = terminalreporter.config.stash.get(_ROWS, [])
    if not rows:
        return
    lines = [[row.fault, *(str(v) for v in _table_figures(row.ledger)),
              f"{row.recovery_seconds:.1f}"] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(COLUMNS)]
    terminalreporter.section("fault suite: the ledger of each scenario")
    for line in [list(COLUMNS), *lines]:
        cells = [line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:],
                                                                         strict=True))]
        terminalreporter.write_line("  ".join(cells))


def _table_figures(ledger: Ledger) -> list[int]:
    figures = ledger.figures()
    return [figures[name] for name in COLUMNS[1:-1]]
