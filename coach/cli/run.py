"""`coach run`: web, worker and beat in one command.

On the embedded default this needs nothing installed: SQLite for data, Celery over kombu's
SQLAlchemy transport on SQLite for the broker, console channels. The database is migrated and
the built-in programmes published on first start.
"""

import signal
import subprocess
import sys

import uvicorn
from rich.console import Console

from coach.db import session_factory
from coach.migrate import upgrade
from coach.programmes.services import publish_missing_builtins
from coach.settings import get_settings
from coach.web.app import create_app


def run(out: Console, host: str, port: int) -> None:
    settings = get_settings()
    settings.check_production_ready()
    settings.check_channels()
    upgrade(settings.effective_database_url)
    with session_factory(settings.effective_database_url).begin() as session:
        for version in publish_missing_builtins(session, settings.programmes_dir):
            out.print(f"published {version.programme.slug} version {version.number}")
    worker = subprocess.Popen([
        sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--beat",
        "--pool=solo", "--loglevel=INFO",
    ])
    out.print(f"dev inbox: http://{host}:{port}/  (worker pid {worker.pid}; Ctrl-C stops all)")
    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception it lets the
    # finally below stop the worker instead of leaving it orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        from tasks.jobs import send

        uvicorn.run(create_app(settings, lambda ids: send.delay(ids)), host=host, port=port,
                    log_level="info")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
