"""SMS by Twilio: the official SDK, one client per process, a per-sender rate shared in Redis.

What Twilio's answer means for the outbox row (the exceptions are in ``channels.py``):

- refused before acceptance (HTTP 429 / Twilio 20429, a 5xx, no connection made): temporary;
  tried again twice here after a short pause, then the row goes back to the queue;
- 21610, the person opted out at their carrier: the number gets nothing more;
- an invalid number (21211, 21614), or any other refusal: failed, with a reason to read;
- the request left and no answer came (read timeout, connection dropped, gateway timeout):
  the outcome is unknown and the row is reconciled, never resent blindly.
"""

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError

from coach.delivery.channels import (
    AddressGone,
    NotAttempted,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.ratelimit import REDIS_SCHEMES, RateLimiter, SenderBusy, redis_url_for
from coach.settings import Settings

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
AUTH_TOKEN = re.compile(r"[0-9a-fA-F]{32}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
SHORT_CODE = re.compile(r"[0-9]{3,8}")
# Twilio's alphanumeric sender ids: up to 11 letters, digits and spaces, at least one letter.
ALPHANUMERIC = re.compile(r"(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}")
SENDER_SHAPES = (
    "an E.164 number like +14155550100, a short code of 3 to 8 digits, or an alphanumeric "
    "sender id of up to 11 letters, digits and spaces with a letter among them (where the "
    "country allows one: not the US or Canada; it is one-way, so people cannot text back "
    "STOP or answers)"
)
# Seconds to connect, and to wait for the answer once the request has left.
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 15.0
RETRY_DELAYS = (0.5, 2.0)  # pauses before trying a refused message again, in this call
HOLD_OFF = 30.0  # once a message ran out of them, the next ones go back to the queue at once
# Twilio's codes for what is wrong with the recipient, in words an admin can read.
RECIPIENT_ERRORS: dict[int, tuple[type[PermanentFailure], str]] = {
    21610: (AddressGone, "opted out at the carrier"),
    21211: (PermanentFailure, "not a valid phone number"),
    21614: (PermanentFailure, "not a mobile number: it cannot receive SMS"),
}


def twilio_problems(settings: Settings) -> list[str]:
    """Everything wrong with the Twilio settings, each naming its variable (never a value)."""
    return [*_credential_problems(settings), *_sender_problems(settings),
            *_url_problems(settings), *_rate_problems(settings)]


def _malformed(name: str, value: str, pattern: re.Pattern[str], shape: str) -> list[str]:
    if not value:
        return [f"set {name} ({shape})"]
    return [] if pattern.fullmatch(value) else [f"{name} is malformed: it must be {shape}"]


def _credential_problems(settings: Settings) -> list[str]:
    return [*_malformed("COACH_TWILIO_ACCOUNT_SID", settings.twilio_account_sid, ACCOUNT_SID,
                        "AC followed by 32 hex digits"),
            *_malformed("COACH_TWILIO_AUTH_TOKEN", settings.twilio_auth_token, AUTH_TOKEN,
                        "32 hex digits")]


def _sender_problems(settings: Settings) -> list[str]:
    number, service = settings.twilio_from, settings.twilio_messaging_service_sid
    if number and service:
        return ["set only one of COACH_TWILIO_FROM and COACH_TWILIO_MESSAGING_SERVICE_SID"]
    if service:
        return _malformed("COACH_TWILIO_MESSAGING_SERVICE_SID", service, SERVICE_SID,
                          "MG followed by 32 hex digits")
    if number:
        known = any(shape.fullmatch(number) for shape in (E164, SHORT_CODE, ALPHANUMERIC))
        return [] if known else [f"COACH_TWILIO_FROM is malformed: it must be {SENDER_SHAPES}"]
    return ["set COACH_TWILIO_FROM (an E.164 number, a short code or an alphanumeric sender "
            "id) or COACH_TWILIO_MESSAGING_SERVICE_SID"]


def _url_problems(settings: Settings) -> list[str]:
    problems = []
    if not _is_http_url(settings.public_url):
        problems.append("COACH_PUBLIC_URL must be the http(s) URL Twilio reaches this service at"
                        " (status callbacks go there)")
    if settings.twilio_api_url and not _is_http_url(settings.twilio_api_url):
        problems.append("COACH_TWILIO_API_URL must be an http(s) URL")
    return problems


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _rate_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.sms_rate_per_second <= 0:
        problems.append("COACH_SMS_RATE_PER_SECOND must be above 0")
    url = redis_url_for(settings)
    if url is None:
        problems.append("set COACH_RATE_LIMIT_REDIS_URL (or a redis:// COACH_BROKER_URL): "
                        "every worker shares the SMS rate per sender through Redis")
    elif not url.startswith(REDIS_SCHEMES):
        problems.append("COACH_RATE_LIMIT_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    return problems


class ApiHttpClient(TwilioHttpClient):
    """The SDK's HTTP client with separate connect and read timeouts, sending every request
    to ``api_url`` (a local peer or a proxy) instead of Twilio's hosts when that is set."""

    def __init__(self, api_url: str, connect_timeout: float, read_timeout: float):
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)  # requests takes the pair

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.api_url:
            parts = urlsplit(url)
            url = self.api_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


@dataclass
class TwilioChannel:
    client: Client
    sender: dict[str, str]  # {"from_": number} or {"messaging_service_sid": sid}
    public_url: str
    limiter: RateLimiter
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    hold_off: float = HOLD_OFF
    _held: tuple[float, str] = field(default=(0.0, ""), init=False)  # until, why

    def send(self, message: OutgoingMessage) -> str:
        until, why = self._held
        if time.monotonic() < until:
            raise NotAttempted(f"holding off for a while after: {why}")
        delays = iter(self.retry_delays)
        while True:
            self._acquire()
            try:
                return self._create(message)
            except TemporaryFailure as refused:
                delay = next(delays, None)
                if delay is None:
                    self._held = (time.monotonic() + self.hold_off, str(refused))
                    raise
            time.sleep(delay * random.uniform(1.0, 1.5))

    def _acquire(self) -> None:
        try:
            self.limiter.acquire()
        except SenderBusy as busy:
            raise NotAttempted(f"SMS rate limit: {busy}") from busy
        except redis.RedisError as error:
            raise NotAttempted(f"the SMS rate limit's Redis is unreachable: {error}") from error

    def _create(self, message: OutgoingMessage) -> str:
        callback = f"{self.public_url}/hooks/twilio/status?delivery={message.delivery_id}"
        try:
            created = self.client.messages.create(
                to=message.to, body=message.text, status_callback=callback, **self.sender)
        except TwilioException as error:
            raise refusal(error) from error
        except requests.RequestException as error:
            raise lost(error) from error
        except Exception as error:  # after the call began, anything else may have sent it
            raise UnknownOutcome(f"unexpected {type(error).__name__} calling Twilio") from error
        if not created.sid:
            raise UnknownOutcome("Twilio answered without a message SID")
        return str(created.sid)

    def close(self) -> None:
        self.client.http_client.session.close()
        self.limiter.close()


def refusal(error: TwilioException) -> Exception:
    """What Twilio's refusal of a message means for its row."""
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    where = f"HTTP {status}" + (f", Twilio {code}" if code and code != status else "")
    if code in RECIPIENT_ERRORS:
        kind, text = RECIPIENT_ERRORS[code]
        return kind(f"{text} (Twilio {code})")
    if status == 429 or code == 20429:
        return TemporaryFailure(f"Twilio asked us to slow down ({where})")
    if status == 504:  # a gateway gave up waiting: the message may have been created behind it
        return UnknownOutcome(f"Twilio's gateway timed out after the request left ({where})")
    if status is None or status >= 500:
        return TemporaryFailure(f"Twilio could not take the message now ({where})")
    if status == 401:  # our credentials, not this message: keep it for when they are fixed
        return TemporaryFailure(f"Twilio did not accept the credentials ({where})")
    return PermanentFailure(f"Twilio refused the message ({where}): {_detail(error)}")


def _detail(error: TwilioException) -> str:
    text = getattr(error, "msg", "") or getattr(error, "detail", "") or ""
    return str(text).removeprefix("Unable to create record: ")[:200]


def lost(error: requests.RequestException) -> Exception:
    """What a broken exchange means: no connection is temporary, anything after is unknown."""
    causes = list(_causes(error))
    said = str(causes[-1]).rsplit(": ", 1)[-1]
    if any(isinstance(cause, requests.ConnectTimeout | ConnectTimeoutError) for cause in causes):
        return TemporaryFailure(f"could not connect to Twilio ({said}); nothing was sent")
    if isinstance(error, requests.ReadTimeout):
        return UnknownOutcome("Twilio did not answer in time after the request was sent")
    return UnknownOutcome(f"the connection to Twilio broke after the request was sent ({said})")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and those it wraps (requests wraps urllib3's, which wraps the socket's)."""
    yield error
    inner = getattr(error, "reason", None) or (error.args[-1] if error.args else None)
    if isinstance(inner, BaseException):
        yield from _causes(inner)


@dataclass(frozen=True)
class TwilioConfig:
    """What a channel is built from; a change of any of it builds a new one."""

    account_sid: str
    auth_token: str = field(repr=False)
    api_url: str
    sender: tuple[str, str]
    public_url: str
    redis_url: str
    per_second: float
    timeouts: tuple[float, float]
    redis_key_prefix: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "TwilioConfig":
        problems = twilio_problems(settings)
        if problems:
            raise RuntimeError("Twilio is not configured: " + "; ".join(problems))
        sender = (("from_", settings.twilio_from) if settings.twilio_from
                  else ("messaging_service_sid", settings.twilio_messaging_service_sid))
        return cls(settings.twilio_account_sid, settings.twilio_auth_token,
                   settings.twilio_api_url, sender, settings.public_url.rstrip("/"),
                   redis_url_for(settings) or "", settings.sms_rate_per_second,
                   (CONNECT_TIMEOUT, READ_TIMEOUT), settings.redis_key_prefix)


def twilio_channel(settings: Settings) -> TwilioChannel:
    """This process's channel for these settings: built at its first message, then reused."""
    config = TwilioConfig.from_settings(settings)
    channel = _channels.get(config)
    if channel is None:
        channel = _channels.setdefault(config, _build(config))
    return channel


def close_channels() -> None:
    """Close this process's Twilio and Redis connections and forget its channels."""
    while _channels:
        _, channel = _channels.popitem()
        channel.close()


_channels: dict[TwilioConfig, TwilioChannel] = {}


def _build(config: TwilioConfig) -> TwilioChannel:
    http = ApiHttpClient(config.api_url, *config.timeouts)
    client = Client(config.account_sid, config.auth_token, http_client=http)
    limiter = RateLimiter(config.redis_url, config.sender[1], config.per_second,
                          key_prefix=config.redis_key_prefix)
    return TwilioChannel(client, dict([config.sender]), config.public_url, limiter,
                         RETRY_DELAYS, HOLD_OFF)
