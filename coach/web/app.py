"""The web app: a health endpoint and the developer inbox.

The inbox shows each subscriber's outgoing messages and lets a developer answer as that person,
through the same inbound path as SMS and email replies. Sends go to the workers, never inline.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.inbound.services import UnknownSender, record_reply
from coach.programmes.qualities import QUALITIES
from coach.settings import PROJECT_ROOT, Settings
from coach.subscribers.addresses import BadAddress
from coach.subscribers.models import Subscriber
from coach.subscribers.services import SignUp, SubscribeError, subscribe
from coach.subscribers.timeline import status

Enqueue = Callable[[list[int]], None]
MAX_ID = 2**31 - 1  # id columns are 32-bit integers on PostgreSQL


def create_app(settings: Settings, enqueue: Enqueue, clock: Callable[[], datetime] | None = None
               ) -> Starlette:
    factory = session_factory(settings.effective_database_url)
    pages = Jinja2Templates(directory=str(PROJECT_ROOT / "templates" / "web"))
    now = clock or (lambda: datetime.now(UTC))

    async def health(_: Request) -> Response:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok", "database": "ok"})

    async def inbox(request: Request) -> Response:
        with factory() as session:
            people = session.execute(
                select(Subscriber, func.count(Delivery.id))
                .join(Delivery, Delivery.subscriber_id == Subscriber.id, isouter=True)
                .group_by(Subscriber.id).order_by(Subscriber.id)
            ).all()
        return pages.TemplateResponse(request, "inbox.html", {
            "people": people, "qualities": QUALITIES, "error": request.query_params.get("error"),
        })

    async def person(request: Request) -> Response:
        person_id = int(request.path_params["id"])
        with factory() as session:
            subscriber = session.get(Subscriber, person_id) if person_id <= MAX_ID else None
            if subscriber is None:
                return pages.TemplateResponse(request, "missing.html", {}, status_code=404)
            story = status(session, subscriber)
        return pages.TemplateResponse(request, "person.html", {
            "story": story, "error": request.query_params.get("error"),
        })

    async def answer(request: Request) -> Response:
        form = await request.form()
        person_id = int(request.path_params["id"])
        words = str(form.get("text", "")).strip()
        back = f"/inbox/{person_id}"
        if person_id > MAX_ID:
            return pages.TemplateResponse(request, "missing.html", {}, status_code=404)
        if not words:
            return _back_with_error(back, "Write something to send.")
        try:
            with factory.begin() as session:
                subscriber = session.get(Subscriber, person_id)
                if subscriber is None:
                    return pages.TemplateResponse(request, "missing.html", {}, status_code=404)
                sender = subscriber.address(str(form.get("channel", "sms"))) \
                    or subscriber.email or subscriber.phone or ""
                outcome = record_reply(session, sender, words, now())
        except (UnknownSender, BadAddress) as error:
            return _back_with_error(back, str(error))
        if outcome.acks:
            enqueue(outcome.acks)
        return RedirectResponse(back, status_code=303)

    async def add_person(request: Request) -> Response:
        form = await request.form()
        values: dict[str, Any] = {k: str(v).strip() for k, v in form.items() if str(v).strip()}
        try:
            with factory.begin() as session:
                subscriber, _ = subscribe(session, SignUp(
                    focus=values.get("focus", ""), timezone=values.get("tz", "UTC"),
                    email=values.get("email"), phone=values.get("phone"),
                    name=values.get("name", ""), send_time=values.get("at", "18:00"),
                    source="dev inbox"), now())
                new_id = subscriber.id
        except SubscribeError as error:
            return _back_with_error("/", str(error))
        return RedirectResponse(f"/inbox/{new_id}", status_code=303)

    routes = [Route("/health", health)]
    if settings.env != "production":  # the dev inbox shows everyone's replies to anyone
        routes += [
            Route("/", inbox),
            Route("/subscribers", add_person, methods=["POST"]),
            Route("/inbox/{id:int}", person),
            Route("/inbox/{id:int}/reply", answer, methods=["POST"]),
        ]
    return Starlette(routes=routes)


def _back_with_error(path: str, message: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode({'error': message})}", status_code=303)
