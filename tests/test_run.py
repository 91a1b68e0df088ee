"""`coach run` — the README's first command — on the embedded default, as a real process:
SQLite, Celery over the SQLite-backed broker with beat inside the worker, console channels."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx

from coach.settings import DEFAULT_SECRET, PROJECT_ROOT
from coach.subscribers.tokens import make_token
from tests.support.ports import free_port


def _wait(predicate, timeout: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s; output:\n{log.read_text()[-4000:]}")


def _zone_where_it_is_afternoon(now: datetime) -> tuple[str, datetime]:
    """A fixed-offset zone where it is 13:xx now, so the send is outside quiet hours."""
    offset = (13 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return zone, now + timedelta(hours=offset)


def test_run_serves_the_inbox_and_its_worker_sends_on_the_embedded_default(tmp_path):
    port, log = free_port(), tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_DATA_DIR=str(tmp_path / "var"), COACH_SWEEP_INTERVAL_SECONDS="1")
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "coach.cli.main", "run", "--port",
                                    str(port)], cwd=PROJECT_ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(lambda: httpx.get(f"{base}/health").status_code == 200, 60, "no health", log)
            now = datetime.now(UTC)
            zone, local = _zone_where_it_is_afternoon(now)
            subscribe = [sys.executable, "-m", "coach.cli.main", "subscribe", "--email",
                         "ana@example.org", "--name", "Ana", "--focus", "honesty", "--tz", zone,
                         "--at", f"{local - timedelta(minutes=1):%H:%M}",
                         "--now", (now - timedelta(days=1, minutes=2)).isoformat()]
            subprocess.run(subscribe, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
            _wait(lambda: "--- email to ana@example.org" in log.read_text(), 60,
                  "the worker never printed the welcome", log)
            page = httpx.get(f"{base}/inbox/1").text
            assert "Welcome" in page
            token = make_token(DEFAULT_SECRET, 1, "unsubscribe")
            assert httpx.get(f"{base}/unsubscribe/{token}").status_code == 200
            _wait(lambda: "GET /unsubscribe/… HTTP/1.1" in log.read_text(), 10,
                  "the access log never showed the unsubscribe page", log)
            assert token not in log.read_text(), "the access log keeps the token"
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert "worker: Warm shutdown" in log.read_text(), "the worker stops with coach run"
