"""The one way an admin page checks who is asking: ``@requires(permission)``.

::

    from coach.admin.roles import DRAFTS_EDIT
    from coach.web.admin.guard import requires

    @requires(DRAFTS_EDIT)
    async def edit(request: Request) -> Response:
        account = request.state.admin  # the AdminAccount signed in, with that permission

No live session: a redirect to ``/admin/login?next=<this path>``. A session whose role lacks
the permission: a 403 page that says so. The role is read from the database on every request,
so a changed role or a disabled account counts at once. Pages are mounted through
``coach.web.admin.routes`` (add a module to ``PARTS`` there), which hands the guard the app's
context and refuses plain http in production.
"""

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from coach.admin.models import AdminAccount
from coach.admin.roles import PERMISSIONS, can
from coach.admin.sessions import Lifetimes, find
from coach.web.context import Web

Endpoint = Callable[[Request], Awaitable[Response]]
COOKIE = "coach_admin"
LOGIN = "/admin/login"
HOME = "/admin"
WEB_KEY = "coach.admin.web"


def requires(permission: str) -> Callable[[Endpoint], Endpoint]:
    """Wrap an endpoint so only an account whose role has ``permission`` reaches it."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; add it to ROLE_CAN in "
                         "coach/admin/roles.py first")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @wraps(endpoint)
        async def guarded(request: Request) -> Response:
            account = await run_in_threadpool(signed_in, web_of(request), request)
            if account is None:
                return to_login(request)
            request.state.admin = account
            if not can(account.role, permission):
                from coach.web.admin.pages import forbidden

                return forbidden(request, permission)
            return await endpoint(request)

        guarded.permission = permission  # type: ignore[attr-defined]  # for the route walk
        return guarded

    return decorate


def web_of(request: Request) -> Web:
    web = request.scope.get(WEB_KEY)
    if not isinstance(web, Web):
        raise RuntimeError("admin pages are mounted through coach.web.admin.routes(web); "
                           "add the page's module to PARTS there")
    return web


def signed_in(web: Web, request: Request, verified: bool = True) -> AdminAccount | None:
    """The account of the request's live session (marked as seen now), or None."""
    with web.factory.begin() as session:
        row = find(session, request.cookies.get(COOKIE), web.now(),
                   Lifetimes.of(web.settings), verified)
        return session.get(AdminAccount, row.account_id) if row else None


def to_login(request: Request) -> Response:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN}?next={quote(safe_next(wanted), safe='/')}",
                            status_code=303)


def safe_next(value: str | None) -> str:
    """``value`` when it is a path inside the admin pages of this site, else the home page:
    ``next`` can never send a person to another site (``//evil``, ``/\\evil``, ``https:``)."""
    if not value or not value.startswith("/") or not value.isascii() or "\\" in value:
        return HOME
    if not value.isprintable() or any(c.isspace() for c in value):
        return HOME
    if ".." in value or "%2e" in value.lower():  # /admin/../join is /join to a browser
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    if parts.path.startswith(LOGIN):
        return HOME
    return value
