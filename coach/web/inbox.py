"""The developer inbox: each subscriber's outgoing messages, and a box to answer as them
through the same inbound path as SMS and email replies. Never served in production."""

from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coach.delivery.models import Delivery
from coach.inbound.services import UnknownSender, record_reply
from coach.programmes.qualities import QUALITIES
from coach.scheduling.enrol import subscribe
from coach.subscribers.addresses import BadAddress
from coach.subscribers.models import Subscriber
from coach.subscribers.services import SignUp, SubscribeError
from coach.timeline.services import status
from coach.web.context import Web

MAX_ID = 2**31 - 1  # id columns are 32-bit integers on PostgreSQL


def routes(web: Web) -> list[Route]:
    async def inbox(request: Request, error: str | None = None) -> Response:
        people = await run_in_threadpool(_people, web)
        return web.pages.TemplateResponse(request, "inbox.html", {
            "people": people, "qualities": QUALITIES, "error": error,
        }, status_code=400 if error else 200)

    async def person(request: Request, error: str | None = None) -> Response:
        story = await run_in_threadpool(_story, web, int(request.path_params["id"]))
        if story is None:
            return web.missing(request)
        return web.pages.TemplateResponse(request, "person.html", {
            "story": story, "error": error,
        }, status_code=400 if error else 200)

    async def answer(request: Request) -> Response:
        # Errors are shown on the page itself, never put in a URL: they can quote an address.
        form = await request.form()
        person_id = int(request.path_params["id"])
        words, channel = str(form.get("text", "")).strip(), str(form.get("channel", "sms"))
        if person_id > MAX_ID:
            return web.missing(request)
        if not words:
            return await person(request, "Write something to send.")
        try:
            acks = await run_in_threadpool(_answer, web, person_id, channel, words)
        except (UnknownSender, BadAddress) as error:
            return await person(request, str(error))
        if acks is None:
            return web.missing(request)
        if acks:
            web.enqueue(acks)
        return RedirectResponse(f"/inbox/{person_id}", status_code=303)

    async def add_person(request: Request) -> Response:
        form = await request.form()
        values = {k: str(v).strip() for k, v in form.items() if str(v).strip()}
        try:
            new_id = await run_in_threadpool(_subscribe, web, values)
        except SubscribeError as error:
            return await inbox(request, str(error))
        return RedirectResponse(f"/inbox/{new_id}", status_code=303)

    return [
        Route("/", inbox),
        Route("/subscribers", add_person, methods=["POST"]),
        Route("/inbox/{id:int}", person),
        Route("/inbox/{id:int}/reply", answer, methods=["POST"]),
    ]


def _people(web: Web) -> list[Any]:
    with web.factory() as session:
        return list(session.execute(
            select(Subscriber, func.count(Delivery.id))
            .join(Delivery, Delivery.subscriber_id == Subscriber.id, isouter=True)
            .group_by(Subscriber.id).order_by(Subscriber.id)
        ).all())


def _story(web: Web, person_id: int) -> dict[str, Any] | None:
    with web.factory() as session:
        subscriber = session.get(Subscriber, person_id) if person_id <= MAX_ID else None
        return status(session, subscriber) if subscriber else None


def _answer(web: Web, person_id: int, channel: str, words: str) -> list[int] | None:
    with web.factory.begin() as session:
        subscriber = session.get(Subscriber, person_id)
        if subscriber is None:
            return None
        sender = subscriber.address(channel) or subscriber.email or subscriber.phone or ""
        return record_reply(session, sender, words, web.now()).acks


def _subscribe(web: Web, values: dict[str, str]) -> int:
    with web.factory.begin() as session:
        subscriber, _ = subscribe(session, SignUp(
            focus=values.get("focus", ""), timezone=values.get("tz", "UTC"),
            email=values.get("email"), phone=values.get("phone"), name=values.get("name", ""),
            send_time=values.get("at", "18:00"), source="dev inbox"), web.now(),
            secret_key=web.settings.secret_key)
        return subscriber.id
