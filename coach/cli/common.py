from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console

from coach.cli.terminal import shown

err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Exit 2 with the message; it may quote what someone typed, so it is shown, not obeyed."""
    err.print(f"[bold red]error:[/] {shown(message)}", highlight=False)
    raise typer.Exit(2)


def now_option() -> Any:
    return typer.Option(None, "--now", help="pretend it is this ISO-8601 time (default: now)")


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now {value!r} is not an ISO-8601 time; use e.g. 2026-03-02T18:00:00Z")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
