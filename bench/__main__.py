"""python -m bench: seed PostgreSQL, then measure the sweep and the send path (see README.md)."""

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import redis
from rich.console import Console

from bench import channels, noop, report
from bench.celery_runs import bare_celery, end_to_end, queued_sends
from bench.database import reset_due, throwaway_database, vacuum, versions_by_quality
from bench.seed import conninfo_of, daytime_zones, seed
from bench.sweeps import idle_sweep_ms, throughput
from bench.worker import WorkerOptions, running_worker
from coach.settings import Settings, get_settings
from tasks.app import app as coach_app
from tests.support.prism import missing_prism

console = Console(width=None if sys.stdout.isatty() else 110)
TARGET_PER_SECOND = 5_000


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000,
                        help="subscribers due at once (default 100000; try 1000000)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 10k subscribers, 2k no-op tasks")
    parser.add_argument("--idle-1m", action=argparse.BooleanOptionalAction, default=None,
                        help="grow to 1M subscribers for the nothing-due sweep (4) (default: "
                             "yes, except with --quick; about 2 minutes more)")
    parser.add_argument("--no-worker", action="store_true",
                        help="only the in-process sweep figures (1 and 4)")
    parser.add_argument("--sweep-batch-size", type=int, default=500)
    parser.add_argument("--send-batch-size", type=int, default=100)
    parser.add_argument("--sweepers", type=int, default=Settings().sweep_parallelism,
                        help="sweeps at once in (1), as a busy minute fans out (default: "
                             "COACH_SWEEP_PARALLELISM, 2); 1 measures a single sweep only")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2,
                        help="worker processes (default: the number of cores)")
    parser.add_argument("--noop-tasks", type=int, default=10_000)
    parser.add_argument("--idle-runs", type=int, default=25)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                        help="the instant everything is due (default: this minute, UTC)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="any database on the server; the bench creates and drops its own")
    parser.add_argument("--redis-url", default=os.environ.get(
        "BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"), help="flushed before and after use")
    parser.add_argument("--profile", type=Path, help="cProfile the throughput sweep to this file")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    group = parser.add_argument_group(
        "channels", "(6) Twilio via Prism and (7) SMTP via aiosmtpd through real workers, on a "
        "database of their own (about 2 minutes; part of the default run, not of --quick)")
    group.add_argument("--channels", action=argparse.BooleanOptionalAction, default=None,
                       help="run them (default: yes, except with --quick)")
    group.add_argument("--channels-only", action="store_true",
                       help="only the channel figures: no seeding of --subscribers, no (1)-(5)")
    group.add_argument("--sms-rate", type=float, default=20.0,
                       help="COACH_SMS_RATE_PER_SECOND for the rate run (default 20)")
    group.add_argument("--rate-seconds", type=float, default=60.0,
                       help="how long the rate is measured (default 60)")
    group.add_argument("--unthrottled-rate", type=float, default=10_000.0,
                       help="the per-sender rate for the channel's own pace (default 10000)")
    group.add_argument("--channel-workers", type=int, default=2,
                       help="separate worker processes sharing the rate (default 2)")
    group.add_argument("--channel-concurrency", type=int, default=2,
                       help="prefork processes in each of them (default 2)")
    args = parser.parse_args(argv)
    if args.quick:
        args.subscribers, args.noop_tasks = 10_000, 2_000
    if args.idle_1m is None:  # the full run grows to 1M for (4); a quick one does not
        args.idle_1m = not args.quick
    args.channels_explicit = bool(args.channels or args.channels_only)
    if args.channels_only:
        args.channels = True
    elif args.channels is None:
        args.channels = not args.quick
    args.now = (args.now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    return args


def configure(url: str, args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    """COACH_* for this process and the worker alike: one settings object, read from the env."""
    env = {"COACH_DATABASE_URL": url, "COACH_BROKER_URL": args.redis_url,
           "COACH_DATA_DIR": str(data_dir), "COACH_SMS_BACKEND": "console",
           "COACH_EMAIL_BACKEND": "console", "COACH_ENV": "development",
           "COACH_SWEEP_BATCH_SIZE": str(args.sweep_batch_size),
           "COACH_SEND_BATCH_SIZE": str(args.send_batch_size)}
    os.environ.update(env)
    get_settings.cache_clear()
    return env


def idle_sizes(args: argparse.Namespace) -> list[int]:
    sizes = {n for n in (1_000, 100_000) if n <= args.subscribers} | {args.subscribers}
    return sorted(sizes | ({1_000_000} if args.idle_1m else set()))


def seed_and_measure_idle(url: str, args: argparse.Namespace, figures: report.Figures) -> None:
    """Grow the population size by size; at each, the median cost of a sweep with nothing due."""
    versions, grown = versions_by_quality(url), 0
    for size in idle_sizes(args):
        seed(conninfo_of(url), grown + 1, size + 1, args.now, args.subscribers + 1, versions)
        grown = size
        vacuum(url)
        figures.idle_ms[size] = idle_sweep_ms(get_settings(), args.now, args.idle_runs)
        report.idle(console, size, figures.idle_ms[size])


def measure_sweep(url: str, args: argparse.Namespace, figures: report.Figures) -> None:
    figures.sweep = throughput(get_settings(), args.now, args.profile)
    report.throughput(console, figures.sweep, TARGET_PER_SECOND)
    if args.sweepers > 1:
        reset_due(url, args.subscribers, args.now)
        figures.sweeps = throughput(get_settings(), args.now, sweepers=args.sweepers)
        report.throughput(console, figures.sweeps, TARGET_PER_SECOND)


def measure_worker(url: str, args: argparse.Namespace, env: dict[str, str], log: Path,
                   figures: report.Figures) -> None:
    options = WorkerOptions(args.concurrency, env, log)
    broker = redis.Redis.from_url(args.redis_url)
    settings, checkpoints = get_settings(), [10_000, 100_000, 1_000_000]
    reset_due(url, args.subscribers, args.now)
    broker.flushdb()
    with running_worker("tasks.app", coach_app, options) as pid:
        figures.e2e = end_to_end(settings, args.now, args.subscribers, pid, checkpoints,
                                 args.sweepers)
        report.end_to_end(console, figures.e2e, args.sweepers)
        reset_due(url, args.subscribers, args.now)
        figures.sends = queued_sends(settings, args.now, args.subscribers, coach_app)
        report.sends(console, figures.sends)
    broker.flushdb()
    with running_worker("bench.noop", noop.app, options):
        figures.bare = bare_celery(args.noop_tasks, args.send_batch_size, args.redis_url)
    report.bare(console, figures.bare, figures.sends)
    broker.flushdb()


def measure_channels(args: argparse.Namespace, tmp: Path, figures: report.Figures) -> None:
    """(6) and (7) on a database of their own; skipped with a note when Prism is missing and
    they were not asked for by name."""
    missing = missing_prism()
    if missing:
        if args.channels_explicit:
            raise SystemExit(f"--channels: {missing}")
        figures.channels = channels.ChannelFigures(notes=[missing])
        console.print(f"(6, 7) channel figures skipped: {missing}")
        return
    with throwaway_database(args.postgres_url, args.keep_db) as url:
        env = configure(url, args, tmp)
        if args.channels_only:
            report.machine(console, url, args, [])
        figures.channels = channels.measure(url, args, env, tmp, console,
                                            lambda result: show_channel(args, result))


def show_channel(args: argparse.Namespace, result: channels.RateRun | channels.Drain) -> None:
    if isinstance(result, channels.RateRun):
        report.rate_run(console, result)
    elif result.channel == "sms":
        report.drain(console, result, f"(6) Twilio via Prism, unthrottled "
                                      f"({args.unthrottled_rate:,.0f}/s)")
    else:
        report.drain(console, result, "(7) SMTP via aiosmtpd")


def run(args: argparse.Namespace) -> report.Figures:
    figures = report.Figures()
    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        if not args.channels_only:
            with throwaway_database(args.postgres_url, args.keep_db) as url:
                env = configure(url, args, Path(tmp))
                report.machine(console, url, args, daytime_zones(args.now))
                seed_and_measure_idle(url, args, figures)
                measure_sweep(url, args, figures)
                if not args.no_worker:
                    measure_worker(url, args, env, Path(tmp) / "worker.log", figures)
        if args.channels:
            measure_channels(args, Path(tmp), figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    figures = run(args)
    report.summary(console, figures, args, TARGET_PER_SECOND)
    return 0


if __name__ == "__main__":
    sys.exit(main())
