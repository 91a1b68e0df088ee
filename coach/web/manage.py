"""A subscriber's own page, reached by a signed link that expires (no password): their time,
channel, language, discreet mode, pauses, focus, unsubscribing, their data, and erasure.

Each form posts, changes one thing, and redirects back with a short code for what was done
(never people's words in a URL). An expired link offers a fresh one; a forged one shows
nothing. ``/manage`` itself is the "send me my link" form, which answers the same for any
address.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coach.programmes.qualities import QUALITIES, quality_name
from coach.scheduling import manage
from coach.scheduling.enrol import current_enrolment
from coach.scheduling.optin import send_manage_link
from coach.subscribers.addresses import BadAddress, channel_and_address
from coach.subscribers.links import ERASE_FOR, MANAGE_FOR, read_link_token
from coach.subscribers.models import CHANNELS, Subscriber
from coach.subscribers.services import LANGUAGES
from coach.web.choices import LANGUAGE_NAMES, time_zones
from coach.web.context import Web, as_sentence

DONE = {
    "settings": "Saved. Your next message follows your new settings.",
    "nothing": "Nothing to change: your settings were already like that.",
    "paused": "Paused. Nothing is sent until the date you chose, and nothing missed is caught up.",
    "resumed": "Welcome back. Your programme carries on at your next preferred time.",
    "focus-now": "Your new focus starts at your next preferred time.",
    "focus-after": "Your new focus will start when your current programme ends.",
    "unsubscribed": "Done. You won't get messages on that channel any more.",
    "link-sent": "If that address subscribes, a link is on its way to it.",
}
CHANNEL_NAMES = {"sms": "text", "email": "email"}
Done = tuple[str, list[int]]  # what was done (a key of DONE), and outbox ids to send
Change = Callable[[Session, Subscriber, FormData, datetime], Done]


def routes(web: Web) -> list[Route]:
    async def show(request: Request, error: str | None = None) -> Response:
        found = linked(web, request)
        if isinstance(found, Response):
            return found
        view = await run_in_threadpool(_overview, web, found)
        if view is None:
            return page(web, request, "site/link_invalid.html", {}, 404)
        done = DONE.get(request.query_params.get("done", ""))
        return page(web, request, "site/manage.html", {
            **view, "token": request.path_params["token"], "error": error, "done": done,
        }, 400 if error else 200)

    def action(change: Change) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            found = linked(web, request)
            if isinstance(found, Response):
                return found
            form = await request.form()
            try:
                done = await run_in_threadpool(_change, web, found, change, form)
            except manage.ManageError as error:
                return await show(request, as_sentence(str(error)))
            if done is None:
                return page(web, request, "site/link_invalid.html", {}, 404)
            code, ids = done
            if ids:
                web.enqueue(ids)
            token = request.path_params["token"]
            return RedirectResponse(f"/manage/{token}?done={code}", status_code=303)
        return endpoint

    async def ask_for_link(request: Request) -> Response:
        return page(web, request, "site/send_link.html", {})

    async def send_link(request: Request) -> Response:
        form = await request.form()
        given = str(form.get("address", "")).strip()[:320]
        try:
            _, address = channel_and_address(given)
        except (BadAddress, ValueError):
            return page(web, request, "site/send_link.html", {
                "error": "Give the email address or mobile number you subscribed with, "
                         "for example sam@example.org or +44 7911 123456.",
                "address": given}, 400)
        ids = await run_in_threadpool(_send_link, web, address)
        if ids:
            web.enqueue(ids)
        return page(web, request, "site/send_link.html", {"done": DONE["link-sent"]})

    return [
        Route("/manage", ask_for_link, methods=["GET"]),
        Route("/manage", send_link, methods=["POST"]),
        Route("/manage/{token}", show, methods=["GET"]),
        Route("/manage/{token}/settings", action(_settings), methods=["POST"]),
        Route("/manage/{token}/pause", action(_pause), methods=["POST"]),
        Route("/manage/{token}/resume", action(_resume), methods=["POST"]),
        Route("/manage/{token}/focus", action(_focus), methods=["POST"]),
        Route("/manage/{token}/unsubscribe", action(_unsubscribe), methods=["POST"]),
    ]


def linked(web: Web, request: Request, purpose: str = "manage") -> int | Response:
    """The subscriber id the path's signed link names, or the page to show instead: a forged
    link shows nothing, an expired one offers a fresh one."""
    lifetime = ERASE_FOR if purpose == "erase" else MANAGE_FOR
    link = read_link_token(web.settings.secret_key, purpose, request.path_params["token"])
    if link is None:
        return page(web, request, "site/link_invalid.html", {}, 404)
    if link.expired(web.now(), lifetime):
        return page(web, request, "site/link_expired.html", {}, 410)
    return link.ident


def page(web: Web, request: Request, template: str, values: dict[str, Any],
         status: int = 200) -> Response:
    """A subscriber's own page: never kept by a shared cache (it shows their details)."""
    response = web.pages.TemplateResponse(request, template, values, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response




def live_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """The subscriber, unless their data was erased (their links then show nothing)."""
    subscriber = session.get(Subscriber, subscriber_id)
    return subscriber if subscriber is not None and subscriber.erased_at is None else None


def _overview(web: Web, subscriber_id: int) -> dict[str, Any] | None:
    now = web.now()
    with web.factory() as session:
        subscriber = live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        enrolment = current_enrolment(session, subscriber.id)
        today = subscriber.clock().local(now).date()
        return {
            "subscriber": subscriber, "enrolment": enrolment,
            "focus": quality_name(enrolment.quality) if enrolment else None,
            "next_focus": quality_name(subscriber.next_focus) if subscriber.next_focus else None,
            "next": manage.next_message(session, subscriber),
            "channels": [(c, CHANNEL_NAMES[c], subscriber.address(c)) for c in CHANNELS
                         if subscriber.consented(c)],
            "zones": time_zones(), "languages": [(c, LANGUAGE_NAMES[c]) for c in LANGUAGES],
            "qualities": QUALITIES, "pause_min": today + timedelta(days=1),
            "pause_max": today + timedelta(days=manage.MAX_PAUSE_DAYS),
        }


def _change(web: Web, subscriber_id: int, change: Change, form: FormData
            ) -> tuple[str, list[int]] | None:
    """Run one change in its own transaction: what was done, and outbox ids to send."""
    now = web.now()
    with web.factory.begin() as session:
        subscriber = live_subscriber(session, subscriber_id)
        return None if subscriber is None else change(session, subscriber, form, now)


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()[:100]


def _settings(session: Session, subscriber: Subscriber, form: FormData, now: datetime) -> Done:
    changed = manage.change_settings(session, subscriber, manage.Settings(
        send_time=_text(form, "send_time"), timezone=_text(form, "timezone"),
        quiet_start=_text(form, "quiet_start"), quiet_end=_text(form, "quiet_end"),
        channel=_text(form, "channel"), language=_text(form, "language"),
        discreet=form.get("discreet") == "on"), now)
    return ("settings" if changed else "nothing"), []


def _pause(session: Session, subscriber: Subscriber, form: FormData, now: datetime) -> Done:
    try:
        until = date.fromisoformat(_text(form, "until"))
    except ValueError:
        raise manage.ManageError("give the date to pause until, like 2026-12-24") from None
    manage.pause_until(session, subscriber, until, now)
    return "paused", []


def _resume(session: Session, subscriber: Subscriber, form: FormData, now: datetime) -> Done:
    manage.resume(session, subscriber, now)
    return "resumed", []


def _focus(session: Session, subscriber: Subscriber, form: FormData, now: datetime) -> Done:
    when = _text(form, "when")
    goodbye = manage.switch_focus(session, subscriber, _text(form, "focus"), when, now)
    return ("focus-after" if subscriber.next_focus else "focus-now"), goodbye


def _unsubscribe(session: Session, subscriber: Subscriber, form: FormData, now: datetime) -> Done:
    manage.unsubscribe(session, subscriber, _text(form, "channel"), now)
    return "unsubscribed", []


def _send_link(web: Web, address: str) -> list[int]:
    with web.factory.begin() as session:
        return send_manage_link(session, address, web.now(), web.settings)
