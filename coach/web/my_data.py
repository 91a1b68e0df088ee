"""See my data, and erase it: reached from the manage page.

The data page shows everything coach keeps about the person, section by section, as the JSON
download does (``coach.privacy.export``, one source for both). Erasing takes two steps: a
button on the page sends a final link to the person's own address, and that link's button
erases. A link scanner that opens the link erases nothing; a stolen manage link alone cannot
erase anyone.
"""

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.privacy.erase import erase_subscriber
from coach.privacy.export import export_subscriber
from coach.scheduling.optin import send_erase_link
from coach.web.context import Web
from coach.web.manage import linked, live_subscriber, page

SECTIONS = (
    ("consents", "Consents"), ("enrolments", "Programmes"), ("messages", "Messages we sent"),
    ("replies", "Your replies"), ("decisions", "Decisions about your pace, with reasons"),
    ("flags", "Replies passed to a person"), ("pending_signups", "Sign-ups waiting"),
    ("sms_signups", "Sign-up by text"),
)


def routes(web: Web) -> list[Route]:
    async def exported(request: Request) -> dict[str, Any] | Response:
        found = linked(web, request)
        if isinstance(found, Response):
            return found
        export = await run_in_threadpool(_export, web, found)
        return page(web, request, "site/link_invalid.html", {}, 404) if export is None \
            else export

    async def data(request: Request) -> Response:
        export = await exported(request)
        if isinstance(export, Response):
            return export
        return page(web, request, "site/data.html", {
            "export": export, "sections": SECTIONS, "token": request.path_params["token"]})

    async def data_json(request: Request) -> Response:
        export = await exported(request)
        if isinstance(export, Response):
            return export
        return Response(json.dumps(export, ensure_ascii=False, indent=2),
                        media_type="application/json", headers={
                            "Content-Disposition": 'attachment; filename="coach-my-data.json"',
                            "Cache-Control": "no-store"})

    async def ask_erase(request: Request) -> Response:
        found = linked(web, request)
        if isinstance(found, Response):
            return found
        return page(web, request, "site/erase_ask.html", {"token": request.path_params["token"]})

    async def send_final_link(request: Request) -> Response:
        found = linked(web, request)
        if isinstance(found, Response):
            return found
        sent = await run_in_threadpool(_send_final_link, web, found)
        if sent is None:
            return page(web, request, "site/link_invalid.html", {}, 404)
        ids, channel = sent
        if ids:
            web.enqueue(ids)
        return page(web, request, "site/erase_sent.html", {"channel": channel})

    async def final(request: Request) -> Response:
        found = linked(web, request, "erase")
        if isinstance(found, Response):
            return found
        live = await run_in_threadpool(_is_live, web, found)
        template = "site/erase_final.html" if live else "site/erase_done.html"
        return page(web, request, template, {"token": request.path_params["token"]})

    async def erase(request: Request) -> Response:
        found = linked(web, request, "erase")
        if isinstance(found, Response):
            return found
        await run_in_threadpool(_erase, web, found)
        return page(web, request, "site/erase_done.html", {})

    return [
        Route("/manage/{token}/data", data, methods=["GET"]),
        Route("/manage/{token}/data.json", data_json, methods=["GET"]),
        Route("/manage/{token}/erase", ask_erase, methods=["GET"]),
        Route("/manage/{token}/erase", send_final_link, methods=["POST"]),
        Route("/erase/{token}", final, methods=["GET"]),
        Route("/erase/{token}", erase, methods=["POST"]),
    ]


def _is_live(web: Web, subscriber_id: int) -> bool:
    with web.factory() as session:
        return live_subscriber(session, subscriber_id) is not None


def _export(web: Web, subscriber_id: int) -> dict[str, Any] | None:
    with web.factory() as session:
        subscriber = live_subscriber(session, subscriber_id)
        return export_subscriber(session, subscriber) if subscriber else None


def _send_final_link(web: Web, subscriber_id: int) -> tuple[list[int], str | None] | None:
    with web.factory.begin() as session:
        subscriber = live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        return send_erase_link(session, subscriber, web.now(), web.settings)


def _erase(web: Web, subscriber_id: int) -> None:
    with web.factory.begin() as session:
        subscriber = live_subscriber(session, subscriber_id)
        if subscriber is not None:  # a second press finds nothing left to erase
            erase_subscriber(session, subscriber, web.now(), web.settings.secret_key)
