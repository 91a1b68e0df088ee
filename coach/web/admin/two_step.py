"""``/admin/two-step``: set up a second factor for one's own account (any role).

The secret is made on the server and kept with the session until a code from the app proves
it was copied right; only then is it the account's. When every account must have one
(``coach admin require-totp on``), sign-in asks for this set-up before anything else.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.admin.accounts import OBJECT
from coach.admin.audit import audit
from coach.admin.models import AdminAccount
from coach.admin.roles import HOME
from coach.admin.second_factor import new_secret, setup_uri
from coach.admin.sessions import Lifetimes, find
from coach.admin.sign_in import check_code
from coach.web.admin.guard import COOKIE, requires
from coach.web.admin.pages import render
from coach.web.context import Web

PATH = "/admin/two-step"


def routes(web: Web) -> list[Route]:
    @requires(HOME)
    async def show(request: Request) -> Response:
        secret = await run_in_threadpool(_candidate, web, request.cookies.get(COOKIE))
        return _page(request, secret)

    @requires(HOME)
    async def confirm(request: Request) -> Response:
        code = str((await request.form()).get("code", ""))[:20]
        secret = await run_in_threadpool(_confirm, web, request.cookies.get(COOKIE), code)
        if secret is None:
            return _page(request, None, done="Two-step sign-in is on for your account.")
        return _page(request, secret, error="That code is not right. Type the 6 digits your "
                                            "authenticator app shows now.", status=400)

    return [Route(PATH, show, methods=["GET"]), Route(PATH, confirm, methods=["POST"])]


def _page(request: Request, secret: str | None, error: str | None = None,
          done: str | None = None, status: int = 200) -> Response:
    account = request.state.admin
    return render(request, "admin/two_step.html", {
        "on": account.totp_secret is not None or done is not None, "secret": secret,
        "setup_uri": setup_uri(secret, account.email) if secret else None,
        "error": error, "done": done}, status_code=status)


def _candidate(web: Web, token: str | None) -> str | None:
    """The secret to set up (kept with this session), or None when the account has one."""
    with web.factory.begin() as session:
        row = find(session, token, web.now(), Lifetimes.of(web.settings))
        account = session.get(AdminAccount, row.account_id) if row else None
        if row is None or account is None or account.totp_secret:
            return None
        row.totp_candidate = row.totp_candidate or new_secret()
        return row.totp_candidate


def _confirm(web: Web, token: str | None, code: str) -> str | None:
    """None when the account now has a second factor; else the secret still to confirm."""
    now = web.now()
    with web.factory.begin() as session:
        row = find(session, token, now, Lifetimes.of(web.settings))
        account = session.get(AdminAccount, row.account_id) if row else None
        if row is None or account is None or account.totp_secret:
            return None
        secret = row.totp_candidate or new_secret()
        row.totp_candidate = secret
        if not check_code(session, account, secret, code, now):
            return secret
        account.totp_secret, row.totp_candidate = secret, None
        audit(session, account, "account.two-step-on", OBJECT, account.id, at=now)
        return None
