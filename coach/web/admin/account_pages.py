"""``/admin/accounts`` (the admin role): list, add, change a role, disable, make a new
set-password link, reset a lost second factor, and require a second factor of everyone. Each
change is audited by coach/admin/accounts.py; an admin cannot disable, demote or reset
themselves (no lock-outs)."""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.admin.accounts import (
    AccountError,
    add_account,
    change_role,
    disable,
    listing,
    password_link,
    reset_second_factor,
)
from coach.admin.audit import audit
from coach.admin.models import AdminAccount
from coach.admin.roles import ACCOUNTS_MANAGE, ROLES
from coach.admin.switches import require_totp, set_require_totp
from coach.web.admin.guard import requires
from coach.web.admin.pages import render
from coach.web.context import Web, as_sentence

Change = Callable[[Session, AdminAccount, AdminAccount], str]


def routes(web: Web) -> list[Route]:
    @requires(ACCOUNTS_MANAGE)
    async def show(request: Request) -> Response:
        return await _page(web, request)

    @requires(ACCOUNTS_MANAGE)
    async def add(request: Request) -> Response:
        form = await request.form()
        email, role = str(form.get("email", ""))[:320], str(form.get("role", ""))[:40]
        try:
            link = await run_in_threadpool(_add, web, request.state.admin, email, role)
        except AccountError as error:
            return await _page(web, request, error=as_sentence(str(error)), email=email,
                               status=400)
        return await _page(web, request, link=link,
                           done="Account added. Give the person this link to set their "
                                "password; it works once, within 48 hours.")

    @requires(ACCOUNTS_MANAGE)
    async def role(request: Request) -> Response:
        wanted = str((await request.form()).get("role", ""))[:40]

        def make(s: Session, by: AdminAccount, account: AdminAccount) -> str:
            change_role(s, account, wanted, web.now(), by)
            return f"{account.email} is now {account.role}."

        return await _change(web, request, make)

    @requires(ACCOUNTS_MANAGE)
    async def disable_account(request: Request) -> Response:
        def make(s: Session, by: AdminAccount, account: AdminAccount) -> str:
            disable(s, account, web.now(), by)
            return f"{account.email} is disabled and signed out."

        return await _change(web, request, make)

    @requires(ACCOUNTS_MANAGE)
    async def new_link(request: Request) -> Response:
        links: list[str] = []

        def make(s: Session, by: AdminAccount, account: AdminAccount) -> str:
            if account.disabled:
                raise AccountError(f"{account.email} is disabled; add a new account instead")
            links.append(password_link(web.settings, s, account, web.now(), by))
            return (f"A new set-password link for {account.email}; older links no longer "
                    "work.")

        return await _change(web, request, make, links)

    @requires(ACCOUNTS_MANAGE)
    async def reset_two_step(request: Request) -> Response:
        def make(s: Session, by: AdminAccount, account: AdminAccount) -> str:
            reset_second_factor(s, account, web.now(), by)
            return (f"{account.email}'s second factor is reset and they are signed out; they "
                    "set up a new one after their password.")

        return await _change(web, request, make)

    @requires(ACCOUNTS_MANAGE)
    async def two_step(request: Request) -> Response:
        on = str((await request.form()).get("require", "")) == "on"
        await run_in_threadpool(_require, web, request.state.admin, on)
        return await _page(web, request, done="Every account now needs a second factor to "
                           "sign in." if on else "A second factor is now each account's choice.")

    return [
        Route("/admin/accounts", show, methods=["GET"]),
        Route("/admin/accounts", add, methods=["POST"]),
        Route("/admin/accounts/{id:int}/role", role, methods=["POST"]),
        Route("/admin/accounts/{id:int}/disable", disable_account, methods=["POST"]),
        Route("/admin/accounts/{id:int}/link", new_link, methods=["POST"]),
        Route("/admin/accounts/{id:int}/totp-reset", reset_two_step, methods=["POST"]),
        Route("/admin/accounts/require-totp", two_step, methods=["POST"]),
    ]


async def _page(web: Web, request: Request, status: int = 200, **values: Any) -> Response:
    accounts, required = await run_in_threadpool(_accounts, web)
    return render(request, "admin/accounts.html", {
        "accounts": accounts, "roles": ROLES, "required": required, **values},
        status_code=status)


async def _change(web: Web, request: Request, change: Change,
                  links: list[str] | None = None) -> Response:
    ident = request.path_params["id"]
    try:
        done = await run_in_threadpool(_apply, web, request.state.admin, ident, change)
    except AccountError as error:
        return await _page(web, request, error=as_sentence(str(error)), status=400)
    return await _page(web, request, done=done, link=links[0] if links else None)


def _apply(web: Web, by: AdminAccount, ident: int, change: Change) -> str:
    with web.factory.begin() as session:
        account = session.get(AdminAccount, ident)
        if account is None:
            raise AccountError("There is no such account; reload the page")
        return change(session, by, account)


def _accounts(web: Web) -> tuple[list[AdminAccount], bool]:
    with web.factory() as session:
        return listing(session), require_totp(session)


def _add(web: Web, by: AdminAccount, email: str, role: str) -> str:
    now = web.now()
    with web.factory.begin() as session:
        account = add_account(session, email, role, now, by)
        return password_link(web.settings, session, account, now, by)


def _require(web: Web, by: AdminAccount, on: bool) -> None:
    with web.factory.begin() as session:
        if set_require_totp(session, on, web.now()):
            audit(session, by, "settings.require-totp", "setting", "require-totp",
                  "on" if on else "off", at=web.now())


