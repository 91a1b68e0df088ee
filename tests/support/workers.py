"""A real Celery worker as a subprocess of the test, for the worker, end-to-end and fault
tests: started, awaited until ready, stopped with whatever it left behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from coach.delivery.channels import read_outbox
from coach.settings import PROJECT_ROOT, Settings


class Worker:
    """``celery worker`` (with beat inside if asked) in its own process group, logging to
    ``log``; it reads its settings from the environment, with ``env`` added."""

    def __init__(self, settings: Settings, log: Path, beat: bool = False, concurrency: int = 2,
                 env: dict[str, str] | None = None, app: str = "tasks.app"):
        self.settings, self.log = settings, log
        command = [sys.executable, "-m", "celery", "-A", app, "worker",
                   "--pool=prefork", f"--concurrency={concurrency}", "--loglevel=INFO",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if beat:
            command.append("--beat")
        self.output = log.open("w")
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT,
                                        env={**os.environ, **(env or {})},
                                        stdout=self.output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            self._wait_for("ready.")
        except AssertionError:
            self.stop()
            raise

    def _wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker never said {text!r}:\n{self.log.read_text()[-3000:]}")

    def outbox(self) -> list[dict[str, object]]:
        return read_outbox(self.settings.effective_outbox_file)

    def stop(self) -> None:
        """Warm shutdown; pool processes orphaned by a killed main process go too."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.output.close()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
