"""The sign-up page, "help me choose", and the confirmation link.

``POST /join`` answers with the same page whatever the address (new, known, capped, or a bot
that filled the hidden field), so the form never tells a stranger who subscribes. The link in
a confirmation email only shows a button: link scanners that open every URL confirm nobody.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from coach.programmes.models import ProgrammeVersion
from coach.programmes.qualities import QUALITIES
from coach.scheduling.manage import next_message
from coach.scheduling.optin import WORDING, WORDINGS, confirm, request_signup
from coach.subscribers.links import CONFIRM_FOR, manage_path, read_link_token
from coach.subscribers.services import SignUp, SubscribeError
from coach.subscribers.suppression import address_hash
from coach.web.choices import LANGUAGE_NAMES, time_zones
from coach.web.context import Web, as_sentence
from coach.web.manage import page
from coach.web.throttle import storage_for

ABOUT = {
    "knowing-yourself": "noticing what you feel and need, and treating yourself with the "
                        "kindness you would give a friend.",
    "trust-and-care": "small, reliable acts of care that let the people close to you lean on "
                      "you, and you on them.",
    "honesty": "saying what is true, kindly and at a good moment.",
    "clear-communication": "listening well and saying what you mean, so less gets lost "
                           "between you.",
}
FIELDS = ("focus", "email", "phone", "name", "send_time", "timezone", "language")


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    options: tuple[tuple[str, str], ...]  # (quality, what the person reads)


QUESTIONS = (
    Question("hard", "When things get hard with someone close, what happens most often?", (
        ("knowing-yourself", "I am hard on myself afterwards"),
        ("trust-and-care", "I pull back or keep my distance"),
        ("honesty", "I say what keeps the peace, not what I think"),
        ("clear-communication", "We end up misunderstanding each other"))),
    Question("more", "What would you like more of?", (
        ("knowing-yourself", "Feeling all right with who I am"),
        ("trust-and-care", "Feeling close, and someone to rely on"),
        ("honesty", "Being real with people"),
        ("clear-communication", "Being heard, and hearing others well"))),
    Question("step", "Which small step sounds doable this week?", (
        ("knowing-yourself", "Noticing one thing I like about myself"),
        ("trust-and-care", "One caring thing without being asked"),
        ("honesty", "Saying one true thing, gently"),
        ("clear-communication", "Asking one question before I answer"))),
)


def routes(web: Web, at_root: bool = False) -> list[Route]:
    per_address = MovingWindowRateLimiter(storage_for(web.settings))
    address_rate = parse(web.settings.rate_limit_per_address)

    async def join(request: Request) -> Response:
        wanted = request.query_params.get("focus", "")
        return await _form(request, {"focus": wanted if wanted in QUALITIES else ""})

    async def _form(request: Request, values: dict[str, Any], error: str | None = None
                    ) -> Response:
        languages = await run_in_threadpool(_languages, web)
        form = {"send_time": web.settings.default_send_time, "language": "en", **values}
        return web.pages.TemplateResponse(request, "site/join.html", {
            "form": form, "error": error, "zones": time_zones(), "languages": languages,
            "qualities": list(ABOUT.items()), "names": QUALITIES, "wording": WORDINGS[WORDING],
        }, status_code=400 if error else 200)

    async def send(request: Request) -> Response:
        form = await request.form()
        values = _values(form)
        if str(form.get("website", "")).strip():
            return _sent()  # a bot filled the hidden field: the same answer, nothing done
        if not values.get("focus"):
            return await _form(request, values, "Choose a focus: one of the four qualities.")
        if not values.get("timezone"):
            return await _form(request, values, "Choose your time zone, so messages come at "
                                                "your time of day.")
        sign_up = SignUp(
            focus=values["focus"], timezone=values["timezone"], email=values.get("email"),
            phone=values.get("phone"), name=values.get("name", ""),
            send_time=values.get("send_time") or web.settings.default_send_time,
            quiet_start=web.settings.default_quiet_start,
            quiet_end=web.settings.default_quiet_end, discreet=values.get("discreet") == "on",
            language=values.get("language", "en"), source="web double opt-in")
        if not _within_rate(sign_up):
            return _sent()
        ip = request.client.host if request.client else None
        try:
            ids = await run_in_threadpool(_request, web, sign_up, ip)
        except SubscribeError as error:
            return await _form(request, values, as_sentence(str(error)))
        if ids:
            web.enqueue(ids)
        return _sent()

    def _within_rate(sign_up: SignUp) -> bool:
        # Keyed hashes of the addresses: Redis never holds the addresses themselves.
        keys = [address_hash(web.settings.secret_key, a) for a in (sign_up.email, sign_up.phone)
                if a]
        return all(per_address.hit(address_rate, "signup-address", key) for key in keys)

    async def sent(request: Request) -> Response:
        return web.pages.TemplateResponse(request, "site/join_sent.html", {})

    async def choose(request: Request) -> Response:
        picked = {q.name: request.query_params.get(q.name, "") for q in QUESTIONS}
        return web.pages.TemplateResponse(request, "site/choose.html", {
            "questions": QUESTIONS, "picked": picked, "suggestion": suggest(picked),
            "names": QUALITIES, "about": {k: v[:1].upper() + v[1:] for k, v in ABOUT.items()},
        })

    async def ask_confirm(request: Request) -> Response:
        link = read_link_token(web.settings.secret_key, "confirm", request.path_params["token"])
        if link is None:
            return _confirm_page(web, request, "missing")
        if link.expired(web.now(), CONFIRM_FOR):
            return _confirm_page(web, request, "expired")
        return web.pages.TemplateResponse(request, "site/confirm.html", {
            "token": request.path_params["token"]})

    async def do_confirm(request: Request) -> Response:
        link = read_link_token(web.settings.secret_key, "confirm", request.path_params["token"])
        if link is None:
            return _confirm_page(web, request, "missing")
        result = await run_in_threadpool(_confirm, web, link.ident)
        return _confirm_page(web, request, result.pop("outcome"), result)

    found = [
        Route("/join", join, methods=["GET"]),
        Route("/join", send, methods=["POST"]),
        Route("/join/sent", sent, methods=["GET"]),
        Route("/join/choose", choose, methods=["GET"]),
        Route("/confirm/{token}", ask_confirm, methods=["GET"]),
        Route("/confirm/{token}", do_confirm, methods=["POST"]),
    ]
    return [*found, Route("/", join, methods=["GET"])] if at_root else found


def suggest(picked: dict[str, str]) -> str | None:
    """The quality most answers point to; a tie goes to the first question's answer."""
    answers = [value for value in picked.values() if value in QUALITIES]
    if not answers:
        return None
    counts = Counter(answers)
    best = max(counts.values())
    return next(value for value in answers if counts[value] == best)


def _sent() -> Response:
    return RedirectResponse("/join/sent", status_code=303)


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name, "")).strip()[:400] for name in FIELDS}
    values["discreet"] = "on" if form.get("discreet") == "on" else ""
    return {name: value for name, value in values.items() if value}




def _languages(web: Web) -> list[tuple[str, str]]:
    """Languages some published programme is written in: the only ones worth offering."""
    with web.factory() as session:
        definitions = session.scalars(select(ProgrammeVersion.definition)).all()
    codes = {str(d.get("language", "en")) for d in definitions} or {"en"}
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in sorted(codes)]


def _request(web: Web, sign_up: SignUp, ip: str | None) -> list[int]:
    with web.factory.begin() as session:
        return request_signup(session, sign_up, web.now(), web.settings, ip)


def _confirm(web: Web, pending_id: int) -> dict[str, Any]:
    now = web.now()
    with web.factory.begin() as session:
        result = confirm(session, pending_id, now, "with the link in the confirmation email",
                         web.settings.secret_key)
        if result.subscriber is None:
            return {"outcome": result.outcome}
        coming = next_message(session, result.subscriber)
        return {"outcome": result.outcome, "next": coming,
                "manage": manage_path(web.settings.secret_key, result.subscriber.id, now)}


def _confirm_page(web: Web, request: Request, outcome: str,
                  values: dict[str, Any] | None = None) -> Response:
    status = {"confirmed": 200, "used": 200, "expired": 410, "missing": 404}[outcome]
    return page(web, request, "site/confirmed.html", {"outcome": outcome, **(values or {})},
                status)  # it carries the person's manage link: never cached
