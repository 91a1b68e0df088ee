"""A real Celery worker as a subprocess, and its memory read from /proc."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from coach.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int
    env: dict[str, str]
    log: Path


def node_name(app_module: str, tag: str = "") -> str:
    """The worker's node name (``-n``), as control commands address it."""
    return f"bench-{app_module.replace('.', '-')}{'-' + tag if tag else ''}-{os.getpid()}" \
           f"@{socket.gethostname()}"


@contextmanager
def running_worker(app_module: str, app: Celery, options: WorkerOptions,
                   tag: str = "") -> Iterator[int]:
    """Start ``celery -A app_module worker``, wait until it answers a ping, yield its pid.
    Workers started at once need different ``tag``s (their node names must differ)."""
    name = node_name(app_module, tag)
    command = [str(BIN / "celery"), "-A", app_module, "worker", "--loglevel", "WARNING",
               "--concurrency", str(options.concurrency), "-n", name]
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, **options.env, "PYTHONPATH": path}
    with options.log.open("a") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=log, start_new_session=True)
    try:
        _wait_ready(app, process, options.log, name)
        yield process.pid
    finally:
        _stop(process)


def _wait_ready(app: Celery, process: subprocess.Popen[bytes], log: Path, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}):\n{_tail(log)}")
        if app.control.ping(destination=[name], timeout=0.5):
            return
    raise RuntimeError(f"the worker did not answer a ping within 60 s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown, then the worker's own process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Memory:
    processes: int
    rss_mb: float
    pss_mb: float


def memory(pid: int) -> Memory:
    """RSS and PSS of a process and all its descendants (prefork children share pages: RSS
    counts shared pages once per process, PSS splits them)."""
    pids = [pid, *_descendants(pid)]
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return Memory(len(pids), rss / 1024, pss / 1024)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants alive now."""
    total = 0
    for p in (pid, *_descendants(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
