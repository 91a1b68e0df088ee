"""Twilio's webhooks: texts coming in (answered with TwiML) and delivery status callbacks.

Both are signed. ``X-Twilio-Signature`` is checked against the URL as Twilio requested it: the
configured public URL (what Twilio sees, behind a proxy too) plus this request's path and query.
A missing or bad signature gets 403 and changes nothing. Paths to paste into Twilio's console:
``POST /hooks/twilio/sms`` and ``POST /hooks/twilio/status``.
"""

import logging
from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from coach.delivery.status import Callback, answer_inline, record_callback, texts_to
from coach.inbound import sms_signup
from coach.inbound.services import act_on, already_recorded, incoming
from coach.inbound.sms_signup import InboundSms
from coach.settings import Settings
from coach.subscribers.addresses import BadAddress, normalize_phone
from coach.subscribers.services import find_by_address
from coach.subscribers.tokens import parse_id
from coach.web.context import Web

log = logging.getLogger(__name__)
CARRIER_KEYWORDS = {"STOP": "stop", "START": "start", "HELP": "help"}  # Twilio's OptOutType
MAX_SID = 64  # Twilio's ids are 34 characters; provider ids are stored in 80


def routes(web: Web) -> list[Route]:
    async def sms(request: Request) -> Response:
        form = await request.form()
        if not signed(web.settings, request, form):
            return PlainTextResponse("invalid signature", status_code=403)
        inbound = _inbound(form)
        if inbound is None:
            return PlainTextResponse("need From and MessageSid", status_code=400)
        answers = await run_in_threadpool(_receive, web, inbound)
        return Response(twiml(web.settings, answers), media_type="text/xml")

    async def status(request: Request) -> Response:
        form = await request.form()
        if not signed(web.settings, request, form):
            return PlainTextResponse("invalid signature", status_code=403)
        callback = _callback(form, request.query_params.get("delivery", ""))
        await run_in_threadpool(_record_status, web, callback)
        return Response(status_code=204)

    return [
        Route("/hooks/twilio/sms", sms, methods=["POST"]),
        Route("/hooks/twilio/status", status, methods=["POST"]),
    ]


def signed(settings: Settings, request: Request, form: FormData) -> bool:
    """Twilio's signature over the public URL and the form. No token configured: nothing is."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.twilio_auth_token or not signature:
        return False
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += f"?{request.url.query}"
    return bool(RequestValidator(settings.twilio_auth_token).validate(url, form, signature))


def twiml(settings: Settings, answers: list[tuple[int, str]]) -> str:
    """Each answer as a <Message>, its status reported like any delivery's; else empty."""
    response = MessagingResponse()
    for delivery_id, text in answers:
        response.message(text, action=status_url(settings, delivery_id))
    return str(response)


def status_url(settings: Settings, delivery_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}/hooks/twilio/status?delivery={delivery_id}"


def _inbound(form: FormData) -> InboundSms | None:
    sender, sid = str(form.get("From", "")), str(form.get("MessageSid", ""))
    if not sender or not sid or len(sid) > MAX_SID:
        return None
    keyword = CARRIER_KEYWORDS.get(str(form.get("OptOutType", "")).upper())
    return InboundSms(sender, str(form.get("Body", "")), sid, keyword)


def _receive(web: Web, inbound: InboundSms) -> list[tuple[int, str]]:
    """Record the text once, let sign-up or the engine answer, and claim the answers to this
    number; anything else planned (an alert to the safety address) goes to the workers."""
    now = web.now()
    try:
        phone = normalize_phone(inbound.phone)
    except BadAddress:  # a short code or a sender name: nobody we can coach
        log.info("text %s from a sender that is not a phone number: ignored", inbound.provider_id)
        return []
    sms = replace(inbound, phone=phone)
    with web.factory.begin() as session:
        if already_recorded(session, sms.provider_id):
            return []  # Twilio sent it again: recorded the first time
        reply = incoming(session, phone, sms.text, sms.provider_id, sms.carrier_keyword)
        acks = sms_signup.answer(session, sms, reply, now, web.settings)
        if acks is None:
            if reply.subscriber is None:  # sign-up has just made them a contact
                reply = replace(reply, subscriber=find_by_address(session, phone))
            acks = act_on(session, reply, now).acks
        inline = texts_to(session, acks, phone)
        answered = answer_inline(session, inline, f"twiml:{sms.provider_id}", now)
        others = [ack for ack in acks if ack not in inline]
    if others:
        web.enqueue(others)  # after the commit, as every send
    return [(delivery.id, delivery.body_text) for delivery in answered]


def _callback(form: FormData, delivery: str) -> Callback:
    return Callback(
        provider_id=str(form.get("MessageSid", ""))[:MAX_SID],
        status=str(form.get("MessageStatus", "")).lower(),
        error_code=str(form.get("ErrorCode", "")) or None,
        delivery_id=parse_id(delivery),
    )


def _record_status(web: Web, callback: Callback) -> None:
    with web.factory.begin() as session:
        outcome = record_callback(session, callback, web.now())
    log.info("status callback %s %s: %s", callback.provider_id, callback.status, outcome)
