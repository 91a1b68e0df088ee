"""Signing in and out: ``/admin/login`` (email and password), ``/admin/login/code`` (the second
factor, or setting it up when every account must have one), ``/admin/logout``.

A wrong password, an unknown email and a disabled account get the same words and take about
as long (coach/admin/sign_in.py). Failures are limited per account and per client address
(login_limits.py). Every sign-in starts a new session and revokes the one the browser had.
"""

from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coach.admin.accounts import OBJECT, find_account
from coach.admin.audit import audit
from coach.admin.models import AdminAccount, AdminSession
from coach.admin.passwords import MAX_CHARS
from coach.admin.second_factor import new_secret, setup_uri
from coach.admin.sessions import Lifetimes, end, find, start
from coach.admin.sign_in import check_code, check_password_login, needs_code, signed_in
from coach.web.admin.cookie import with_session, without_session
from coach.web.admin.guard import COOKIE, LOGIN, safe_next
from coach.web.admin.login_limits import LoginLimits, wait_message
from coach.web.admin.pages import render
from coach.web.context import Web

CODE_PATH = "/admin/login/code"
WRONG = ("That email and password do not match an account that can sign in. Check both and "
         "try again, or ask an admin for a new set-password link.")
WRONG_CODE = ("That code is not right, or was used already. Type the 6 digits your "
              "authenticator app shows now.")
DONE = {"out": "You have signed out.",
        "password": "Your password is set. Sign in with it now."}


@dataclass(frozen=True)
class Pending:
    """Between the password and the code: who, and the secret being set up, if any."""

    account: AdminAccount
    candidate: str | None


def routes(web: Web) -> list[Route]:
    limits = LoginLimits(web.settings)

    async def login_form(request: Request) -> Response:
        return _login_page(request, "", safe_next(request.query_params.get("next")),
                           done=DONE.get(request.query_params.get("done", "")))

    async def login(request: Request) -> Response:
        form = await request.form()
        email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))
        wanted, client = safe_next(str(form.get("next", ""))), _client(request)
        wait = limits.wait(email, client)
        if wait:
            await run_in_threadpool(_throttled, web, email)
            return _login_page(request, email, wanted, wait_message(wait), 429,
                               {"Retry-After": str(wait)})
        started = await run_in_threadpool(_password_step, web, email,
                                          password[:MAX_CHARS + 1], request.cookies.get(COOKIE))
        if started is None:
            limits.failed(email, client)
            return _login_page(request, email, wanted, WRONG, 400)
        token, verified = started
        target = wanted if verified else f"{CODE_PATH}?next={quote(wanted, safe='/')}"
        return with_session(RedirectResponse(target, status_code=303), token, web.settings)

    async def code_form(request: Request) -> Response:
        pending = await run_in_threadpool(_pending, web, request.cookies.get(COOKIE))
        if pending is None:
            return RedirectResponse(LOGIN, status_code=303)
        return _code_page(request, pending, safe_next(request.query_params.get("next")))

    async def code(request: Request) -> Response:
        form = await request.form()
        wanted, client = safe_next(str(form.get("next", ""))), _client(request)
        token = request.cookies.get(COOKIE)
        pending = await run_in_threadpool(_pending, web, token)
        if pending is None:
            return RedirectResponse(LOGIN, status_code=303)
        wait = limits.wait(pending.account.email, client)
        if wait:
            return _code_page(request, pending, wanted, wait_message(wait), 429)
        fresh = await run_in_threadpool(_code_step, web, token, str(form.get("code", ""))[:20])
        if fresh is None:
            limits.failed(pending.account.email, client)
            return _code_page(request, pending, wanted, WRONG_CODE, 400)
        return with_session(RedirectResponse(wanted, status_code=303), fresh, web.settings)

    async def logout_form(request: Request) -> Response:
        return render(request, "admin/logout.html")

    async def logout(request: Request) -> Response:
        await run_in_threadpool(_sign_out, web, request.cookies.get(COOKIE))
        response = RedirectResponse(f"{LOGIN}?done=out", status_code=303)
        return without_session(response, web.settings)

    return [
        Route(LOGIN, login_form, methods=["GET"]),
        Route(LOGIN, login, methods=["POST"]),
        Route(CODE_PATH, code_form, methods=["GET"]),
        Route(CODE_PATH, code, methods=["POST"]),
        Route("/admin/logout", logout_form, methods=["GET"]),
        Route("/admin/logout", logout, methods=["POST"]),
    ]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, email: str, wanted: str, error: str | None = None,
                status: int = 200, headers: dict[str, str] | None = None,
                done: str | None = None) -> Response:
    response = render(request, "admin/login.html", {
        "email": email, "next": wanted, "error": error, "done": done}, status_code=status)
    response.headers.update(headers or {})
    return response


def _code_page(request: Request, pending: Pending, wanted: str, error: str | None = None,
               status: int = 200) -> Response:
    setup = setup_uri(pending.candidate, pending.account.email) if pending.candidate else None
    return render(request, "admin/login_code.html", {
        "next": wanted, "error": error, "secret": pending.candidate, "setup_uri": setup},
        status_code=status)


def _throttled(web: Web, email: str) -> None:
    with web.factory.begin() as session:
        account = find_account(session, email)
        audit(session, account, "login.throttled", OBJECT, account.id if account else None,
              at=web.now())


def _password_step(web: Web, email: str, password: str, old_token: str | None
                   ) -> tuple[str, bool] | None:
    """(a new session's token, whether it is fully signed in), or None for a refusal."""
    now, lifetimes = web.now(), Lifetimes.of(web.settings)
    with web.factory.begin() as session:
        result = check_password_login(session, email, password, now)
        account = result.account
        if not result.ok or account is None:
            return None
        end(session, old_token, now)  # never keep a session from before sign-in
        if needs_code(session, account):
            return start(session, account, now, lifetimes, verified=False), False
        signed_in(session, account, now)
        return start(session, account, now, lifetimes), True


def _pending(web: Web, token: str | None) -> Pending | None:
    """The half-signed-in session's account; sets up a secret to enrol when one is needed."""
    with web.factory.begin() as session:
        row = find(session, token, web.now(), Lifetimes.of(web.settings), verified=False)
        account = session.get(AdminAccount, row.account_id) if row else None
        if row is None or account is None:
            return None
        if account.totp_secret is None and row.totp_candidate is None:
            row.totp_candidate = new_secret()
        return Pending(account, None if account.totp_secret else row.totp_candidate)


def _code_step(web: Web, token: str | None, code: str) -> str | None:
    """A fully signed-in session's token for a good code (the half one ends), or None."""
    now, lifetimes = web.now(), Lifetimes.of(web.settings)
    with web.factory.begin() as session:
        row = find(session, token, now, lifetimes, verified=False)
        account = session.get(AdminAccount, row.account_id) if row else None
        if row is None or account is None:
            return None
        secret = account.totp_secret or row.totp_candidate or ""
        if not check_code(session, account, secret, code, now):
            return None
        if account.totp_secret is None:
            account.totp_secret = secret
            audit(session, account, "account.two-step-on", OBJECT, account.id, at=now)
        row.revoked_at = now
        signed_in(session, account, now)
        return start(session, account, now, lifetimes)


def _sign_out(web: Web, token: str | None) -> None:
    with web.factory.begin() as session:
        row: AdminSession | None = end(session, token, web.now())
        if row is not None:
            account = session.get(AdminAccount, row.account_id)
            audit(session, account, "logout", OBJECT, row.account_id, at=web.now())
