"""`coach flags`: replies that need a person, until the admin pages exist.

``list`` shows open flags without anyone's words; ``show`` prints the reply itself, for the
person following it up; ``resolve`` closes a flag with a note of what was done.
"""

import typer
from rich.console import Console

from coach.cli.common import fail, now_option, parse_now
from coach.cli.terminal import shown
from coach.db import transaction
from coach.inbound.models import Reply
from coach.safety.models import Flag
from coach.safety.services import category_name, open_flags, resolve
from coach.subscribers.models import Subscriber

app = typer.Typer(no_args_is_help=True, help="Replies that need a person: list, show, resolve.")
out = Console(soft_wrap=True)


@app.command("list")
def list_command() -> None:
    """Open flags, oldest first: when, how urgent, what about, and whose (no words)."""
    with transaction() as session:
        flags = open_flags(session)
        rows = [_line(flag) for flag in flags]
    if not rows:
        out.print("no open flags")
    for row in rows:
        out.print(row, highlight=False)


@app.command("show")
def show_command(flag_id: int = typer.Argument(..., help="the flag's number")) -> None:
    """One flag with the reply that raised it and how to reach the person."""
    with transaction() as session:
        flag = session.get(Flag, flag_id)
        if flag is None:
            fail(f"there is no flag {flag_id}; see the open ones with: coach flags list")
        subscriber = session.get(Subscriber, flag.subscriber_id)
        reply = session.get(Reply, flag.reply_id) if flag.reply_id else None
        out.print(_line(flag), highlight=False)
        out.print(f"  {flag.reason}", highlight=False)
        if subscriber is not None:
            out.print(f"  person: {shown(subscriber.name) or '(no name)'} "
                      f"{shown(subscriber.email)} {shown(subscriber.phone)}; their timeline: "
                      f"coach status {shown(subscriber.email or subscriber.phone)}",
                      highlight=False)
        if reply is not None:
            out.print(f"  wrote by {reply.channel} at {reply.received_at:%Y-%m-%d %H:%M} UTC:")
            out.print(f"    {shown(reply.text)}", highlight=False)
        if flag.resolved_at:
            out.print(f"  resolved {flag.resolved_at:%Y-%m-%d %H:%M} UTC: "
                      f"{shown(flag.resolved_note)}", highlight=False)


@app.command("resolve")
def resolve_command(
    flag_id: int = typer.Argument(..., help="the flag's number"),
    note: str = typer.Option(..., "--note", help="what was done, for the record"),
    now: str | None = now_option(),
) -> None:
    """Close a flag with a note of what was done."""
    if not note.strip():
        fail("say what was done with --note, like --note \"called, they are safe\"")
    with transaction() as session:
        if resolve(session, flag_id, note.strip(), parse_now(now)) is None:
            fail(f"there is no flag {flag_id}; see the open ones with: coach flags list")
    out.print(f"flag {flag_id} resolved")


def _line(flag: Flag) -> str:
    state = "open" if flag.resolved_at is None else "resolved"
    return (f"#{flag.id}  {flag.raised_at:%Y-%m-%d %H:%M} UTC  {flag.risk:<7}  "
            f"{category_name(flag.category):<20}  subscriber {flag.subscriber_id}  {state}")
