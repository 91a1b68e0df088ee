"""Printing the figures: one line as each is measured, one table at the end."""

import argparse
import os
import platform
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import redis
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.celery_runs import Run
from bench.channels import ChannelFigures, Drain, RateRun, median, quantile
from bench.sweeps import Throughput
from coach.db import get_engine
from coach.scheduling.services import STALE_SENDING


@dataclass
class Figures:
    idle_ms: dict[int, float] = field(default_factory=dict)
    sweep: Throughput | None = None
    sweeps: Throughput | None = None  # several at once (--sweepers)
    e2e: Run | None = None
    sends: Run | None = None
    bare: Run | None = None
    channels: ChannelFigures | None = None


def machine(console: Console, url: str, args: argparse.Namespace,
            zones: list[tuple[str, time]]) -> None:
    with get_engine(url).connect() as connection:
        postgres = connection.scalar(sa.text("SHOW server_version"))
    info: dict[str, Any] = redis.Redis.from_url(args.redis_url).info("server")  # type: ignore[assignment]
    redis_version = info["redis_version"]
    console.print(f"[bold]coach bench[/] on {os.cpu_count()} cores (load average "
                  f"{os.getloadavg()[0]:.1f}), Python {platform.python_version()}, PostgreSQL "
                  f"{postgres}, Redis {redis_version}")
    if not zones:
        return
    console.print(f"{args.subscribers:,} subscribers due at {args.now:%Y-%m-%d %H:%M} UTC, "
                  f"at their local send time in {len(zones)} zones "
                  f"({', '.join(z for z, _ in zones[:4])}, ...); sweep batch "
                  f"{args.sweep_batch_size}, send batch {args.send_batch_size}, "
                  f"worker concurrency {args.concurrency}")


def idle(console: Console, size: int, ms: float) -> None:
    console.print(f"(4) sweep with nothing due at {size:>9,} subscribers: {ms:7.2f} ms (median)")


def throughput(console: Console, result: Throughput, target: int) -> None:
    verdict = "meets" if result.per_second >= target else "BELOW"
    how = f"{result.sweepers} sweeps at once" if result.sweepers > 1 else "sweep"
    console.print(f"(1) {how} (claim + pacing + render + outbox): {result.planned:,} messages in "
                  f"{result.seconds:.1f} s = [bold]{result.per_second:,.0f}/s[/] ({verdict} the "
                  f"{target:,}/s target); actions {result.actions}")


# Issue 10's targets for the worker figures, printed beside them.
END_TO_END_TARGET, SEND_PATH_TARGET = 3_000, 5_000
BURST, BURST_SECONDS = 100_000, 60.0  # a 09:00 burst, handed to the channel within a minute
MEMORY_GROWTH_TARGET = 1.25  # "flat": PSS after the run within 25% of PSS after 10k


def versus(value: float, target: float) -> str:
    return f"{'meets' if value >= target else 'BELOW'} the {target:,.0f}/s target"


def end_to_end(console: Console, result: Run, sweepers: int) -> None:
    console.print(f"(2) end to end via a Celery worker, console channel, {sweepers} sweep(s) at "
                  f"once: {result.messages:,} "
                  f"messages sent in {result.seconds:.1f} s = [bold]{result.per_second:,.0f}/s[/]"
                  f" ({versus(result.per_second, END_TO_END_TARGET)}; {result.tasks:,} send "
                  f"tasks; the sweeps enqueuing them took {result.sweep_seconds:.1f} s of that)")
    if result.messages >= BURST:
        console.print(f"(2) {result.messages:,} due at one minute, all handed to the channel in "
                      f"[bold]{result.seconds:.1f} s[/] (target <= {BURST_SECONDS:.0f} s)")
    for mark, memory in result.memory.items():
        console.print(f"(5) worker memory {mark}: RSS {memory.rss_mb:,.0f} MB, PSS "
                      f"{memory.pss_mb:,.0f} MB over {memory.processes} processes")


def sends(console: Console, result: Run) -> None:
    console.print(f"(2) the send path alone, from a full queue: {result.messages:,} messages in "
                  f"{result.seconds:.1f} s = [bold]{result.per_second:,.0f}/s[/] "
                  f"({versus(result.per_second, SEND_PATH_TARGET)}), "
                  f"{result.tasks_per_second:,.0f} send tasks/s")


def bare(console: Console, result: Run, sends: Run) -> None:
    console.print(f"(3) bare Celery no-op tasks ({result.messages // result.tasks} ids each), from "
                  f"a full queue: {result.tasks:,} in {result.seconds:.1f} s = "
                  f"[bold]{result.tasks_per_second:,.0f} tasks/s[/];"
                  f" coach's send tasks run at "
                  f"{ratio(sends.tasks_per_second, result.tasks_per_second)} of that")


def ratio(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def summary(console: Console, figures: Figures, args: argparse.Namespace, target: int) -> None:
    table = Table(title="coach bench", show_lines=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    _sweep_rows(table, figures, target)
    _worker_rows(table, figures, args)
    if figures.channels:
        _channel_rows(table, figures.channels)
    console.print(table)


def _sweep_rows(table: Table, figures: Figures, target: int) -> None:
    if figures.sweeps:
        table.add_row(f"(1) sweep messages/s, {figures.sweeps.sweepers} at once as a busy "
                      "minute runs", f"{figures.sweeps.per_second:,.0f} (target {target:,})")
    if figures.sweep:
        table.add_row("(1) one sweep process alone, messages/s",
                      f"{figures.sweep.per_second:,.0f}" + ("" if figures.sweeps
                                                            else f" (target {target:,})"))
    if figures.idle_ms:
        for size, ms in figures.idle_ms.items():
            table.add_row(f"(4) nothing-due sweep at {size:,} subscribers", f"{ms:.2f} ms")
        smallest, largest = min(figures.idle_ms), max(figures.idle_ms)
        table.add_row(f"(4) {largest:,} vs {smallest:,}",
                      f"{figures.idle_ms[largest] / figures.idle_ms[smallest]:.2f}x (target <= 2x)")


def _worker_rows(table: Table, figures: Figures, args: argparse.Namespace) -> None:
    e2e, sends, bare = figures.e2e, figures.sends, figures.bare
    if e2e:
        table.add_row("(2) end to end messages/s (sweep + worker, console channel)",
                      f"{e2e.per_second:,.0f} (target {END_TO_END_TARGET:,})")
        if e2e.messages >= BURST:
            table.add_row(f"(2) {e2e.messages:,} due at one minute, all handed to the channel",
                          f"{e2e.seconds:.1f} s (target <= {BURST_SECONDS:.0f} s)")
    if sends:
        table.add_row("(2) send path alone, messages/s (tasks/s)",
                      f"{sends.per_second:,.0f} ({sends.tasks_per_second:,.0f}) "
                      f"(target {SEND_PATH_TARGET:,})")
    if bare and sends:
        table.add_row("(3) bare Celery no-op tasks/s", f"{bare.tasks_per_second:,.0f}")
        table.add_row(f"(2)/(3) send tasks/s vs no-op tasks/s ({args.send_batch_size} ids each)",
                      ratio(sends.tasks_per_second, bare.tasks_per_second))
    if bare and e2e:
        table.add_row("(2)/(3) end-to-end messages/s vs no-op tasks/s",
                      f"{e2e.per_second / bare.tasks_per_second:.2f}")
    if e2e:
        for mark, memory in e2e.memory.items():
            table.add_row(f"(5) worker RSS / PSS {mark}",
                          f"{memory.rss_mb:,.0f} / {memory.pss_mb:,.0f} MB")
        _memory_growth(table, e2e)


def _memory_growth(table: Table, e2e: Run) -> None:
    """PSS at the end of the run against PSS after the first 10k messages."""
    marks = [mark for mark in e2e.memory if mark.startswith("after ")]
    if len(marks) < 2:
        return
    first, last = e2e.memory[marks[0]], e2e.memory[marks[-1]]
    table.add_row(f"(5) worker PSS {marks[-1]} vs {marks[0]}",
                  f"{last.pss_mb / first.pss_mb:.2f}x (target <= {MEMORY_GROWTH_TARGET}x)")


def rate_run(console: Console, run: RateRun) -> None:
    windows = run.per_window
    verdict = "within" if run.within else "[bold red]OUTSIDE[/]"
    console.print(
        f"(6) Twilio via Prism, {run.workers} workers x {run.concurrency} sharing "
        f"{run.configured:g}/s: {run.in_window:,} messages in the first {run.window:g} s = "
        f"[bold]{run.achieved:.2f}/s[/] ({run.deviation:+.1%}, {verdict} ±5%); per 1 s window "
        f"{min(windows, default=0)}–{max(windows, default=0)}, at most {run.max_sliding} in "
        f"any 1 s (from +{run.max_sliding_at:.1f} s); 429s: {run.http_429} from Twilio, "
        f"{run.slow_down} rows 'slow down'")
    late = run.lateness_ms
    console.print(f"    arrivals against an exact {1000 / run.configured:g} ms grid: 98% within "
                  f"{quantile(late, 0.01):+.1f} / {quantile(late, 0.99):+.1f} ms, extremes "
                  f"{min(late, default=0):+.0f} / {max(late, default=0):+.0f} ms")
    if run.covered < run.window - 1:
        console.print(f"    [bold red]the queue ran dry after {run.covered:.1f} s[/]: the rate "
                      "covers less than the window")
    split = " / ".join(str(n) for n in run.connections.values())
    console.print(
        f"    {len(run.times):,} requests in all at {run.overall:.2f}/s ({run.refused} refused), "
        f"over {len(run.connections)} connections ({split}), {run.duplicates} deliveries twice; "
        f"rows sat claimed before their request: median "
        f"{median(run.held):.1f} s, 95% {quantile(run.held, 0.95):.1f} s, max "
        f"{max(run.held, default=0):.1f} s; housekeeping during the run marked "
        f"{run.marked_unknown} unknown ({run.unknown_sent} of them sent all the same, still "
        f"unknown) and requeued {run.requeued}; outcome {run.outcome}; "
        f"worker ERROR lines {run.worker_errors}")
    console.print(
        f"    a send task claims {run.batch} rows (SMS: no more than a minute at the rate), "
        f"then waits for a slot before each: with {run.senders} senders the last waits "
        f"~{run.expected_hold:.0f} s; a row still untried after "
        f"{STALE_SENDING.total_seconds() / 60:.0f} min would go back to the queue (only with "
        f"more than {STALE_SENDING.total_seconds() / 60:.0f} senders sharing the rate)")


def drain(console: Console, run: Drain, label: str) -> None:
    received = f"; the relay received {run.received:,}" if run.received >= 0 else ""
    cores = ", ".join(f"{name} {used:.2f}" for name, used in run.cores.items())
    console.print(f"{label}: {run.messages:,} messages in {run.seconds:.1f} s = "
                  f"[bold]{run.per_second:,.0f}/s[/] (outcome {run.outcome}{received}; "
                  f"{run.slow_down} 'slow down', worker ERROR lines {run.worker_errors}); cores "
                  f"used meanwhile: {cores}")


def _channel_rows(table: Table, channels: ChannelFigures) -> None:
    rate = channels.rate
    if rate:
        table.add_row(f"(6) Twilio rate held by {rate.workers} workers over {rate.window:g} s, "
                      "achieved vs configured",
                      f"{rate.achieved:.2f} vs {rate.configured:g}/s ({rate.deviation:+.1%}, "
                      f"{'within' if rate.within else 'OUTSIDE'} ±5%)")
        windows = rate.per_window
        table.add_row("(6) most messages in any 1 s (whole seconds; latest arrival)",
                      f"{rate.max_sliding} ({min(windows, default=0)}–{max(windows, default=0)}; "
                      f"{max(rate.lateness_ms, default=0):+.0f} ms)")
        table.add_row("(6) 429s: HTTP from Twilio / 'slow down' rows",
                      f"{rate.http_429} / {rate.slow_down} (target 0)")
        table.add_row("(6) rows held claimed before sending, median / max",
                      f"{median(rate.held):.1f} / {max(rate.held, default=0):.1f} s "
                      f"(model {rate.expected_hold:.0f} s)")
        table.add_row("(6) housekeeping: marked unknown (then sent) / requeued",
                      f"{rate.marked_unknown} ({rate.unknown_sent}) / {rate.requeued}")
    if channels.twilio:
        table.add_row("(6) Twilio channel unthrottled against Prism, messages/s",
                      f"{channels.twilio.per_second:,.0f}")
    if channels.smtp:
        table.add_row("(7) SMTP channel against aiosmtpd, messages/s",
                      f"{channels.smtp.per_second:,.0f}")
    for note in channels.notes:
        table.add_row("(6, 7) skipped", note)
