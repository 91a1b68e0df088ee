"""`coach subscribers`: a person's data for an operator — print it, or erase it.

``export`` prints the same JSON the subscriber's page offers (``coach.privacy.export``).
``erase`` asks first unless ``--yes``, then prints rows changed per table: nothing of the
person's but the address the operator typed.
"""

import json

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from coach.cli.common import fail, now_option, parse_now
from coach.cli.terminal import shown
from coach.db import transaction
from coach.privacy.erase import erase_subscriber
from coach.privacy.export import export_subscriber
from coach.settings import get_settings
from coach.subscribers.addresses import BadAddress
from coach.subscribers.models import Subscriber
from coach.subscribers.services import find_by_address
from coach.subscribers.suppression import is_suppressed

app = typer.Typer(no_args_is_help=True, help="A person's data: export it, or erase it.")
out = Console(soft_wrap=True)
ADDRESS = typer.Argument(..., help="their email address or phone number")


@app.command("export")
def export_command(address: str = ADDRESS) -> None:
    """Print everything coach keeps about a person, as JSON."""
    with transaction() as session:
        data = export_subscriber(session, _find(session, address))
    # JSON escapes control characters, and ensure_ascii the invisible ones that reorder text.
    print(json.dumps(data, indent=2))


@app.command("erase")
def erase_command(
    address: str = ADDRESS,
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
    now: str | None = now_option(),
) -> None:
    """Erase a person's data for good; their address stays only as a keyed hash, so a new
    sign-up needs their own confirmation."""
    moment, secret_key = parse_now(now), get_settings().secret_key
    with transaction() as session:
        subscriber = _find(session, address)
        if not yes and not typer.confirm(
                f"Erase everything coach keeps about {shown(address)}? This cannot be undone"):
            out.print("not erased; nothing changed")
            raise typer.Exit(1)
        summary = erase_subscriber(session, subscriber, moment, secret_key)
    counts = ", ".join(f"{table} {count}" for table, count in summary.as_dict().items())
    out.print(f"erased {shown(address)}: {counts}", highlight=False)


def _find(session: Session, address: str) -> Subscriber:
    try:
        subscriber = find_by_address(session, address)
        erased = subscriber is None and is_suppressed(session, get_settings().secret_key,
                                                      address)
    except BadAddress as error:
        fail(str(error))
    if erased:
        fail(f"the data of {address} was erased at the person's request; coach keeps nothing "
             "more about it")
    if subscriber is None:
        fail(f"no subscriber has the address {address}; check it with the person")
    return subscriber
