"""CSRF protection for every form: a signed double-submit token.

A page that shows a form calls ``csrf_token()`` (given to every template); the token goes in a
hidden field and, signed with the secret key, in an HttpOnly, SameSite=Lax cookie. A POST is
accepted only when the field matches the cookie's token and any ``Origin`` header is our own,
so another site cannot post a form in a visitor's name. :func:`guard_forms` wraps every POST
route of the app, except the few that prove who sent them another way (webhook signatures and
secrets, and the unsubscribe token that mail clients post without a cookie, RFC 8058).

itsdangerous signs the cookie; the rest is small enough to read in one sitting.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "coach_csrf"
FIELD = "csrf_token"
# Paths whose POSTs carry their own proof of origin instead of a form token.
EXEMPT_PREFIXES = ("/hooks/", "/unsubscribe/")
REFUSED = (
    "<!doctype html><html lang='en'><meta charset='utf-8'><title>Form expired</title>"
    "<h1>This form has expired</h1><p>It was open too long, or it was sent from another site. "
    "Go back, reload the page, and send it again.</p></html>"
)
Endpoint = Callable[[Request], Awaitable[Response]]


def _signer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="coach-csrf")


def csrf_token(request: Request) -> str:
    """This visitor's token: the one their cookie carries, or a new one the response sets."""
    state = request.scope.setdefault("state", {})
    if "csrf_token" not in state:
        state["csrf_token"] = _from_cookie(request) or secrets.token_urlsafe(32)
        state["csrf_new"] = state["csrf_token"] != _from_cookie(request)
    return str(state["csrf_token"])


def _from_cookie(request: Request) -> str | None:
    secret_key = request.app.state.secret_key
    try:
        value = _signer(secret_key).loads(request.cookies.get(COOKIE, ""))
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def guard_forms(routes: list[BaseRoute], public_url: str) -> list[BaseRoute]:
    """Every POST route, guarded unless exempt: protection by construction, not by memory."""
    return [_guarded(route, public_url) for route in routes]


def exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


def _guarded(route: BaseRoute, public_url: str) -> BaseRoute:
    if not isinstance(route, Route) or "POST" not in (route.methods or ()) or exempt(route.path):
        return route
    guarded = Route(route.path, _checking(route.endpoint, public_url),
                    methods=sorted(route.methods or ()), name=route.name)
    guarded.csrf_guarded = True  # type: ignore[attr-defined]  # for the route-walking test
    return guarded


def _checking(endpoint: Endpoint, public_url: str) -> Endpoint:
    async def checked(request: Request) -> Response:
        if request.method == "POST" and not await _valid(request, public_url):
            return HTMLResponse(REFUSED, status_code=403)
        return await endpoint(request)

    return checked


async def _valid(request: Request, public_url: str) -> bool:
    if not _same_origin(request, public_url):
        return False
    expected = _from_cookie(request)
    given = (await request.form()).get(FIELD)  # parsed once; the endpoint reads the same form
    return (expected is not None and isinstance(given, str)
            and hmac.compare_digest(given.encode(), expected.encode()))


def _same_origin(request: Request, public_url: str) -> bool:
    """Browsers send Origin on cross-site POSTs; when present it must be ours."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {_origin(public_url), _origin(str(request.base_url))}
    return origin.rstrip("/") in ours


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class CsrfCookie:
    """Sets the cookie on responses to pages that handed out a new token."""

    def __init__(self, app: ASGIApp, secret_key: str, secure: bool) -> None:
        self.app, self.secret_key, self.secure = app, secret_key, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            state: dict[str, Any] = scope.get("state", {})
            if message["type"] == "http.response.start" and state.get("csrf_new"):
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", self._cookie(state))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, state: dict[str, Any]) -> bytes:
        value = _signer(self.secret_key).dumps(state["csrf_token"])
        attributes = f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
        return (attributes + "; Secure" * self.secure).encode("latin-1")
