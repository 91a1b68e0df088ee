"""``/admin/set-password/<token>``: the one-time link ``coach admin add`` prints.

The link works once, for 48 hours, and only the newest one made for an account works. Setting
a password signs the account out everywhere; the person then signs in as usual.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coach.admin.accounts import AccountError, linked_account, set_password
from coach.admin.passwords import MAX_CHARS, MIN_CHARS
from coach.web.admin.guard import LOGIN
from coach.web.admin.pages import render
from coach.web.context import Web

STATUS = {"missing": 404, "used": 410, "expired": 410}


def routes(web: Web) -> list[Route]:
    async def form(request: Request) -> Response:
        token = request.path_params["token"]
        outcome = await run_in_threadpool(_check, web, token)
        if outcome != "ok":
            return _problem(request, outcome)
        return _form(request)

    async def save(request: Request) -> Response:
        form = await request.form()
        password = str(form.get("password", ""))[:MAX_CHARS + 1]
        if password != str(form.get("again", ""))[:MAX_CHARS + 1]:
            return _form(request, "The two passwords are not the same; type the same one "
                                  "twice.")
        outcome = await run_in_threadpool(_save, web, request.path_params["token"], password)
        if outcome == "ok":
            return RedirectResponse(f"{LOGIN}?done=password", status_code=303)
        if outcome in STATUS:
            return _problem(request, outcome)
        return _form(request, outcome)

    return [
        Route("/admin/set-password/{token}", form, methods=["GET"]),
        Route("/admin/set-password/{token}", save, methods=["POST"]),
    ]


def _form(request: Request, error: str | None = None) -> Response:
    return render(request, "admin/set_password.html", {
        "error": error, "min_chars": MIN_CHARS}, status_code=400 if error else 200)


def _problem(request: Request, outcome: str) -> Response:
    return render(request, "admin/set_password_problem.html", {"outcome": outcome},
                  status_code=STATUS[outcome])


def _check(web: Web, token: str) -> str:
    with web.factory() as session:
        return linked_account(session, web.settings.secret_key, token, web.now())[1]


def _save(web: Web, token: str, password: str) -> str:
    """"ok", a link problem ("used", …), or what is wrong with the password."""
    now = web.now()
    with web.factory.begin() as session:
        account, outcome = linked_account(session, web.settings.secret_key, token, now)
        if account is None:
            return outcome
        try:
            set_password(session, account, password, now)
        except AccountError as error:
            return str(error)
        return "ok"
