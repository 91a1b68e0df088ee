"""`coach run`: web, worker and beat in one command.

On the embedded default this needs nothing installed: SQLite for data, Celery over kombu's
SQLAlchemy transport on SQLite for the broker, console channels. The database is migrated and
the built-in programmes published on first start.
"""

import ipaddress
import signal
import subprocess
import sys

import uvicorn
from rich.console import Console

from coach.db import session_factory
from coach.delivery.channels import check_channels
from coach.migrate import upgrade
from coach.programmes.services import publish_missing_builtins
from coach.settings import get_settings
from coach.web.access_log import hide_tokens_in_access_logs
from coach.web.app import INBOX_ENVIRONMENTS, create_app


def run(out: Console, host: str, port: int) -> None:
    settings = get_settings()
    settings.check_production_ready()
    check_channels(settings)
    upgrade(settings.effective_database_url)
    with session_factory(settings.effective_database_url).begin() as session:
        for version in publish_missing_builtins(session, settings.programmes_dir):
            out.print(f"published {version.programme.slug} version {version.number}")
    worker = subprocess.Popen([
        sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--beat",
        "--pool=solo", "--loglevel=INFO",
    ])
    inbox = serves_dev_inbox(settings.env, host)
    where = f"http://{host}:{port}/"
    out.print(f"dev inbox: {where}" if inbox else f"web: {where} (no dev inbox: it is served "
              "only in development on a loopback address)")
    out.print(f"worker pid {worker.pid}; Ctrl-C stops all")
    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception it lets the
    # finally below stop the worker instead of leaving it orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        from tasks.jobs import send

        app = create_app(settings, lambda ids: send.delay(ids), dev_inbox=inbox)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        hide_tokens_in_access_logs()  # after uvicorn.Config has configured logging
        server.run()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def serves_dev_inbox(env: str, host: str) -> bool:
    """The dev inbox shows everyone's words to whoever reaches it: only on this machine."""
    return env in INBOX_ENVIRONMENTS and _loopback(host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
