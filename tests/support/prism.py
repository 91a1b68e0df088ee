"""Prism serving Twilio's API spec, started by the Twilio tests and the bench's channel figures.

Prism comes from ``make peers`` (into ``.peers/``); the spec from ``COACH_TEST_TWILIO_SPEC``,
by default ``shared/peers/`` beside the repository, as CI lays it out.
"""

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coach.settings import PROJECT_ROOT
from tests.support.ports import free_port

PRISM = PROJECT_ROOT / ".peers" / "node_modules" / ".bin" / "prism"
SPEC = Path(os.environ.get("COACH_TEST_TWILIO_SPEC",
                           PROJECT_ROOT.parent / "shared" / "peers" / "twilio_api_v2010.json"))


class PrismFailed(RuntimeError):
    """Prism exited, or did not answer in time; the message ends with its log."""


def missing_prism() -> str | None:
    """Why Prism cannot run here, or None."""
    if not PRISM.exists():
        return f"Prism is not installed at {PRISM}; run `make peers`"
    if not SPEC.exists():
        return f"Twilio's API spec is not at {SPEC}; set COACH_TEST_TWILIO_SPEC"
    return None


@contextmanager
def running_prism(log: Path, answer_within: float) -> Iterator[tuple[str, int]]:
    """``prism mock`` serving Twilio's spec on a free port, in its own process group; yields
    its URL and pid, and stops the whole group (node and anything it started) afterwards."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn", str(SPEC)],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(url, process, log, answer_within)
        yield url, process.pid
    finally:
        _stop_group(process)


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path,
                        answer_within: float) -> None:
    deadline = time.monotonic() + answer_within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PrismFailed(f"Prism exited with {process.returncode}: "
                              f"{log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered (404: no such path in the spec)
        except OSError:
            time.sleep(0.1)
    raise PrismFailed(f"Prism did not answer within {answer_within:g} s: "
                      f"{log.read_text()[-2000:]}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
