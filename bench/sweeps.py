"""The sweep measured in this process: planning throughput, and the cost of a sweep with
nothing due."""

import cProfile
import multiprocessing
import pstats
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from coach.db import get_engine
from coach.scheduling.services import run_sweep
from coach.settings import Settings


@dataclass
class Throughput:
    planned: int
    seconds: float
    actions: dict[str, int]
    sweepers: int = 1

    @property
    def per_second(self) -> float:
        return self.planned / self.seconds if self.seconds else 0.0


def throughput(settings: Settings, now: datetime, profile: Path | None = None,
               sweepers: int = 1) -> Throughput:
    """Claim + pacing + render + outbox for everything due at ``now``; sends go nowhere."""
    if sweepers > 1:
        return concurrent_throughput(settings, now, sweepers)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run_sweep(now, settings, _no_op)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler and profile:
        _save_profile(profiler, profile)
    return Throughput(int(result["planned"]), seconds, dict(result["actions"]))


def concurrent_throughput(settings: Settings, now: datetime, sweepers: int) -> Throughput:
    """The same with several sweeps at once in separate processes, as two beats or a sweep
    task on several workers would run: they split the work with FOR UPDATE SKIP LOCKED."""
    get_engine(settings.effective_database_url).dispose()  # no connection crosses the fork
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(sweepers) as pool:
        results = pool.starmap(run_sweep, [(now, settings, _no_op)] * sweepers)
    seconds = time.perf_counter() - started
    actions: Counter[str] = Counter()
    for result in results:
        actions.update(result["actions"])
    return Throughput(sum(int(r["planned"]) for r in results), seconds, dict(actions), sweepers)


def idle_sweep_ms(settings: Settings, now: datetime, runs: int) -> float:
    """Median wall time of a whole sweep (housekeeping included) an hour before anything is due."""
    before = now - timedelta(hours=1)
    for _ in range(3):  # warm the connection pool and caches
        run_sweep(before, settings, _no_op)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run_sweep(before, settings, _no_op)
        timings.append((time.perf_counter() - started) * 1000)
        if result["due"]:
            raise RuntimeError(f"expected nothing due at {before}, found {result['due']}")
    return statistics.median(timings)


def _no_op(_ids: list[int]) -> None:
    return None


def _save_profile(profiler: cProfile.Profile, path: Path) -> None:
    profiler.dump_stats(str(path))
    stats: Any = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(25)
