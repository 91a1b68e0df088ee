"""``POST /hooks/email/inbound``: a raw RFC 5322 message from a mail service.

The message is the request body (``message/rfc822`` or ``text/plain``), or the form field
``email`` as inbound-parse services post it. The shared secret (COACH_INBOUND_EMAIL_SECRET)
comes in the ``X-Coach-Secret`` header or as the HTTP basic password; without it nothing is
read or stored. A message dropped on purpose (unknown sender, auto-reply, one that cannot be
read) gets 202, not an error, so the service does not retry it; only a failure to store answers
500, so the service tries again.
"""

import binascii
import hmac
import logging
from base64 import b64decode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from coach.inbound.email_in import receive_email
from coach.inbound.email_limits import MAX_BYTES
from coach.web.context import Web

log = logging.getLogger(__name__)

RAW_TYPES = ("message/rfc822", "text/plain", "application/octet-stream", "")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = PlainTextResponse(message, status_code=status)


def routes(web: Web) -> list[Route]:
    async def inbound(request: Request) -> Response:
        try:
            _check_secret(request, web.settings.inbound_email_secret)
            raw = await _raw_message(request)
        except Refused as refused:
            return refused.response
        try:
            received = await run_in_threadpool(receive_email, web.factory, raw, web.now(),
                                               web.settings.secret_key,
                                               web.settings.inbound_authserv_id)
        except Exception as error:  # the service retries; a duplicate is then recognised
            # The type only: a database error's text can carry the reply's words.
            log.error("inbound email not stored (%s)", type(error).__name__)
            return PlainTextResponse("could not store the message; try again", status_code=500)
        if received.acks:
            web.enqueue(received.acks)
        status = 202 if received.result == "dropped" else 200
        return JSONResponse({"result": received.result}, status_code=status)

    return [Route("/hooks/email/inbound", inbound, methods=["POST"])]


def _check_secret(request: Request, secret: str) -> None:
    if not secret:
        raise Refused(503, "inbound email is not configured: set COACH_INBOUND_EMAIL_SECRET")
    given = request.headers.get("x-coach-secret") or _basic_password(request)
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Refused(403, "wrong or missing secret: send it in X-Coach-Secret or as the "
                           "HTTP basic password")


def _basic_password(request: Request) -> str:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return b64decode(encoded, validate=True).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return ""


async def _raw_message(request: Request) -> bytes:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise Refused(413, f"the message is larger than {MAX_BYTES // 2**20} MiB")
    if kind in RAW_TYPES:
        raw = await request.body()
    elif kind in FORM_TYPES:
        raw = await _form_field(request)
    else:
        raise Refused(415, f"post the message as message/rfc822, not {kind}")
    if not raw.strip():
        raise Refused(400, "no message: post it as the request body or the form field email")
    if len(raw) > MAX_BYTES:
        raise Refused(413, f"the message is larger than {MAX_BYTES // 2**20} MiB")
    return raw


async def _form_field(request: Request) -> bytes:
    async with request.form(max_part_size=MAX_BYTES) as form:
        value = form.get("email")
        if isinstance(value, UploadFile):
            return await value.read()
        return (value or "").encode()
