"""`coach admin`: accounts for the admin pages, from the command line.

``add`` prints a one-time link (48 hours) where the person sets their password; ``link``
makes a fresh one; ``list``, ``disable``; ``require-totp on|off`` makes a second factor
everyone's or each account's choice. Each change is in the audit log (by "no account": the
command line). Bad input says what to do, exits 2 and changes nothing.
"""

from collections.abc import Callable
from datetime import datetime

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from coach.admin.accounts import (
    AccountError,
    add_account,
    disable,
    find_account,
    listing,
    password_link,
    reset_second_factor,
)
from coach.admin.audit import audit
from coach.admin.models import AdminAccount
from coach.admin.roles import ROLES
from coach.admin.switches import REQUIRE_TOTP, require_totp, set_require_totp
from coach.cli.common import fail, now_option, parse_now
from coach.db import transaction
from coach.settings import get_settings

app = typer.Typer(no_args_is_help=True,
                  help="Admin accounts: add, link, list, disable, require-totp.")
out = Console(soft_wrap=True)


@app.command("add")
def add_command(
    email: str = typer.Argument(..., help="the address the person reads"),
    role: str = typer.Option(..., help=", ".join(ROLES)),
    now: str | None = now_option(),
) -> None:
    """Add an account and print the one-time link where its person sets a password."""
    moment = parse_now(now)
    with transaction() as session:
        try:
            account = add_account(session, email, role, moment)
        except AccountError as error:
            fail(str(error))
        link = password_link(get_settings(), session, account, moment)
    out.print(f"added {account.email} as {account.role}. Send them this link to set a password "
              "(it works once, within 48 hours):", highlight=False)
    print(link)


@app.command("link")
def link_command(email: str = typer.Argument(...), now: str | None = now_option()) -> None:
    """A new set-password link for an account (older links stop working)."""
    moment = parse_now(now)
    with transaction() as session:
        account = find_account(session, email)
        if account is None or account.disabled:
            fail(f"no active account has the address {email.strip()[:320]!r}; see coach admin "
                 "list, or add one with: coach admin add EMAIL --role ROLE")
        link = password_link(get_settings(), session, account, moment)
    out.print(f"a new link for {account.email} (it works once, within 48 hours):",
              highlight=False)
    print(link)


@app.command("list")
def list_command() -> None:
    """Every account: email, role, second factor, last sign-in, status."""
    with transaction() as session:
        accounts = listing(session)
        required = require_totp(session)
    out.print(f"second factor required of everyone: {'on' if required else 'off'}")
    if not accounts:
        out.print("no accounts yet; add one with: coach admin add EMAIL --role admin")
    for a in accounts:
        last = f"{a.last_login_at:%Y-%m-%d %H:%M} UTC" if a.last_login_at else "never"
        status = ("disabled" if a.disabled else "active" if a.password_hash
                  else "no password yet")
        out.print(f"{a.email}  {a.role}  two-step {'on' if a.totp_secret else 'off'}  "
                  f"last sign-in {last}  {status}", highlight=False)


@app.command("disable")
def disable_command(email: str = typer.Argument(...), now: str | None = now_option()) -> None:
    """Disable an account: it can no longer sign in, and its sessions end now."""
    account = _change(email, now, disable)
    out.print(f"disabled {account.email}; its sessions have ended", highlight=False)


@app.command("reset-totp")
def reset_totp_command(email: str = typer.Argument(...), now: str | None = now_option()) -> None:
    """Reset a lost second factor: the account sets up a new one after its password."""
    account = _change(email, now, reset_second_factor)
    out.print(f"reset the second factor of {account.email}; its sessions have ended",
              highlight=False)


@app.command("require-totp")
def require_totp_command(
    state: str = typer.Argument(..., help="on: every account needs a code from an "
                                          "authenticator app; off: each account's choice"),
    now: str | None = now_option(),
) -> None:
    """Require a second factor (TOTP) of every account, or leave it to each."""
    if state.strip().lower() not in ("on", "off"):
        fail(f"{state.strip()[:20]!r} is neither on nor off; say coach admin require-totp on")
    on, moment = state.strip().lower() == "on", parse_now(now)
    with transaction() as session:
        if set_require_totp(session, on, moment):
            audit(session, None, "settings.require-totp", "setting", REQUIRE_TOTP,
                  "on" if on else "off", at=moment)
    out.print("every account now needs a code to sign in; accounts without one set it up at "
              "their next sign-in" if on else "a second factor is now each account's choice")


def _change(email: str, now: str | None,
            change: Callable[[Session, AdminAccount, datetime], None]) -> AdminAccount:
    """One change to the account named, in one transaction; a refusal says why and exits 2."""
    moment = parse_now(now)
    with transaction() as session:
        account = _account(session, email)
        try:
            change(session, account, moment)
        except AccountError as error:
            fail(str(error))
    return account


def _account(session: Session, email: str) -> AdminAccount:
    account = find_account(session, email)
    if account is None:
        fail(f"no account has the address {email.strip()[:320]!r}; see coach admin list")
    return account
