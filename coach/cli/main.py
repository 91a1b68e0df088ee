"""The `coach` command. Every time-dependent command takes --now so tests and people can drive
the clock. Errors say what was wrong and what to do, and exit 2 without changing anything."""

import json
from datetime import UTC, datetime
from typing import NoReturn

import typer
from rich.console import Console

from coach.cli import admin as admin_cli
from coach.cli import flags as flags_cli
from coach.cli import programmes as programmes_cli
from coach.cli import replies as replies_cli
from coach.cli import subscribers as subscribers_cli
from coach.cli.common import fail, now_option, parse_now
from coach.db import transaction
from coach.delivery.sending import send_deliveries
from coach.inbound.services import UnknownSender, record_reply
from coach.scheduling.enrol import subscribe
from coach.scheduling.services import DatabaseFull, run_sweep
from coach.settings import get_settings
from coach.subscribers.addresses import BadAddress
from coach.subscribers.services import SignUp, SubscribeError, find_by_address
from coach.timeline.services import status as timeline_status

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="coach: one relationship habit at a time, at an unhurried pace.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(db_app, name="db")
app.add_typer(programmes_cli.app, name="programmes")
app.add_typer(flags_cli.app, name="flags")
app.add_typer(admin_cli.app, name="admin")
app.add_typer(replies_cli.app, name="replies")
app.add_typer(subscribers_cli.app, name="subscribers")
out = Console(soft_wrap=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate every table to the newest schema."""
    from coach.migrate import upgrade

    upgrade(get_settings().effective_database_url)
    out.print("database is at the newest schema")


@app.command("subscribe")
def subscribe_command(
    focus: str = typer.Option(..., help="knowing-yourself, trust-and-care, honesty, "
                                        "clear-communication"),
    email: str | None = typer.Option(None),
    phone: str | None = typer.Option(None, help="international format, like +447911123456"),
    name: str = typer.Option(""),
    tz: str = typer.Option(..., help="IANA time zone, like Europe/London"),
    at: str = typer.Option("18:00", help="preferred local send time, HH:MM"),
    quiet: str = typer.Option("21:00-08:00", help="quiet hours, HH:MM-HH:MM local"),
    discreet: bool = typer.Option(False, help="neutral SMS openers and email subjects"),
    language: str = typer.Option("en", help="en or es: how replies are read and system "
                                            "messages written"),
    country: str | None = typer.Option(None, help="ISO code for the helplines an urgent reply "
                                                  "names (default: the phone number's)"),
    now: str | None = now_option(),
) -> None:
    """Subscribe a person and start the programme for their focus quality."""
    start, dash, end = quiet.partition("-")
    if not dash:
        fail(f"--quiet {quiet!r} is not a span; give it as HH:MM-HH:MM, like 21:00-08:00")
    form = SignUp(focus=focus, timezone=tz, email=email, phone=phone, name=name, send_time=at,
                  quiet_start=start, quiet_end=end, source="coach subscribe",
                  discreet=discreet, language=language.lower(),
                  country=country.upper() if country else None)
    try:
        with transaction() as session:
            subscriber, enrolment = subscribe(session, form, parse_now(now),
                                              secret_key=get_settings().secret_key)
            due = enrolment.next_due_at
    except SubscribeError as error:
        fail(str(error))
    out.print(f"subscribed #{subscriber.id}; the welcome goes at {due:%Y-%m-%d %H:%M} UTC")


@app.command("reply")
def reply_command(
    text: str = typer.Argument(..., help="what the person wrote"),
    sender: str = typer.Option(..., "--from", help="their email address or phone number"),
    provider_id: str | None = typer.Option(None, "--id", help="provider message id (dedupe)"),
    now: str | None = now_option(),
) -> None:
    """Record a reply through the same inbound path webhooks use, then send any answer."""
    if not text.strip():
        fail("the reply is empty; give the words the person sent, like: coach reply --from "
             "sam@example.org \"2\"")
    moment = parse_now(now)
    try:
        with transaction() as session:
            outcome = record_reply(session, sender, text, moment, provider_id)
    except (UnknownSender, BadAddress) as error:
        fail(str(error))
    if outcome.duplicate:
        out.print("already recorded (same provider id); nothing changed")
        return
    if outcome.acks:
        send_deliveries(outcome.acks, moment, get_settings())
    out.print(f"recorded as {outcome.intent}"
              + (f"; decision: {outcome.decision}" if outcome.decision else ""))


@app.command("tick")
def tick_command(now: str | None = now_option()) -> None:
    """One sweep (what beat runs each minute), then send what it planned, in this process."""
    moment, settings = parse_now(now), get_settings()
    sent: dict[str, int] = {}

    def send_now(ids: list[int]) -> None:
        for key, value in send_deliveries(ids, moment, settings).as_dict().items():
            sent[key] = sent.get(key, 0) + value

    try:
        result = run_sweep(moment, settings, send_now)
    except DatabaseFull as error:
        fail(str(error))
    out.print(json.dumps({**result, "sent": sent.get("sent", 0)}))


@app.command("status")
def status_command(
    address: str = typer.Argument(..., help="email address or phone number"),
    as_json: bool = typer.Option(False, "--json", help="the stable machine-readable form"),
) -> None:
    """A person's timeline: messages, replies and every pacing decision with its reason."""
    try:
        with transaction() as session:
            subscriber = find_by_address(session, address)
            if subscriber is None:
                fail(f"no subscriber has the address {address}; check it with the person, "
                     "or subscribe them with: coach subscribe")
            story = timeline_status(session, subscriber)
    except BadAddress as error:
        fail(str(error))
    if as_json:
        print(json.dumps(story, indent=2))
        return
    from coach.cli.show import show_status

    show_status(out, story)


@app.command("simulate")
def simulate_command(
    days: int = typer.Option(21, min=1, max=400),
    start: str | None = typer.Option(None, help="ISO-8601 start time (UTC)"),
) -> None:
    """Fast-forward a few scripted subscribers on a throwaway database; print their timelines."""
    from coach.cli.simulate import simulate

    moment = parse_now(start) if start else datetime(2026, 3, 2, tzinfo=UTC)
    simulate(out, days, moment)


@app.command("run")
def run_command(
    port: int = typer.Option(8000), host: str = typer.Option("127.0.0.1"),
) -> None:
    """Web, worker and beat in one command, on the configured (default: embedded) services."""
    from coach.cli.run import run

    run(out, host, port)


@app.command("worker")
def worker_command(beat: bool = typer.Option(False, help="run beat inside this worker too"),
                   concurrency: int = typer.Option(2)) -> None:
    """A Celery worker (operators may run `celery -A tasks.app worker` directly instead)."""
    from tasks.app import app as celery_app

    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}"] + (["-B"] if beat else [])
    celery_app.worker_main(argv)


def main() -> NoReturn:
    app()
    raise SystemExit(0)


if __name__ == "__main__":
    main()

