"""One-click unsubscribe from email (RFC 8058), served in every environment.

``GET /unsubscribe/{token}`` only shows a page with a button, so link scanners that follow
every link in a message unsubscribe nobody. ``POST`` unsubscribes at once, without a login:
mail clients post ``List-Unsubscribe=One-Click`` and the page's button posts the same. The
signed token names the subscriber; a bad one gets a 404 page and changes nothing. No
confirmation email is sent: the page says it is done, and the mail client shows its own.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.scheduling.consent import opt_out
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import read_token
from coach.web.context import Web

SOURCE = "one-click unsubscribe"


def routes(web: Web) -> list[Route]:
    async def ask(request: Request) -> Response:
        found = await run_in_threadpool(_look_up, web, request.path_params["token"])
        if found is None:
            return _invalid(web, request)
        return web.pages.TemplateResponse(request, "unsubscribe.html", found)

    async def unsubscribe(request: Request) -> Response:
        # Any body is accepted: the token is the authority, and RFC 8058's
        # "List-Unsubscribe=One-Click" is what both mail clients and the page's form send.
        found = await run_in_threadpool(_unsubscribe, web, request.path_params["token"])
        if found is None:
            return _invalid(web, request)
        return web.pages.TemplateResponse(request, "unsubscribe_done.html", found)

    return [
        Route("/unsubscribe/{token}", ask, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
    ]


def _invalid(web: Web, request: Request) -> Response:
    return web.pages.TemplateResponse(request, "unsubscribe_invalid.html", {}, status_code=404)


def _subscriber(web: Web, session: Session, token: str) -> Subscriber | None:
    subscriber_id = read_token(web.settings.secret_key, token, "unsubscribe")
    if subscriber_id is None:
        return None
    subscriber = session.get(Subscriber, subscriber_id)
    return subscriber if subscriber is not None and subscriber.email else None


def _look_up(web: Web, token: str) -> dict[str, Any] | None:
    with web.factory() as session:
        subscriber = _subscriber(web, session, token)
        return _page(subscriber, token) if subscriber else None


def _unsubscribe(web: Web, token: str) -> dict[str, Any] | None:
    with web.factory.begin() as session:
        subscriber = _subscriber(web, session, token)
        if subscriber is None:
            return None
        if subscriber.email_consent:  # a second click changes nothing
            opt_out_of_email(session, subscriber, web.now())
        return _page(subscriber, token)


def _page(subscriber: Subscriber, token: str) -> dict[str, Any]:
    return {"token": token, "address": masked(subscriber.email or ""),
            "subscribed": subscriber.email_consent, "sms": subscriber.consented("sms")}


def masked(address: str) -> str:
    """Enough for a person to recognise their address, not enough to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"


def opt_out_of_email(session: Session, subscriber: Subscriber, now: datetime) -> None:
    opt_out(session, subscriber, "email", now, SOURCE,
            "unsubscribed with the one-click link: no more email")
