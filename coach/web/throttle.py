"""Limits on what one client may send: request rates per path family, and body sizes.

Rates use the ``limits`` library (a moving window), counted in Redis when the deployment has it
(COACH_RATE_LIMIT_REDIS_URL, else a Redis broker), so every web process shares one count, and in
memory on the embedded default. The client is the connection's address: behind a proxy, run
uvicorn with ``--proxy-headers --forwarded-allow-ips`` set to the proxy, so it is the visitor's.

Bodies are read up to their path's limit before the app sees them; a larger one gets 413 and
changes nothing. When the count cannot be reached (Redis down), requests pass: a lost STOP
costs more than an unthrottled minute.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coach.settings import Settings

log = logging.getLogger(__name__)
KIB = 1024
MAX_UPLOAD = 1024 * KIB  # a programme folder as a zip, uploaded as a draft


@dataclass(frozen=True)
class Rule:
    prefix: str
    family: str  # counted together: every webhook, every unsubscribe link, every other form
    rate: RateLimitItem | None = None
    max_body: int = 64 * KIB
    methods: frozenset[str] = frozenset({"POST"})


def rules(settings: Settings) -> list[Rule]:
    """First match wins. Twilio's texts are at most 1,600 characters; emails may be large."""
    hooks, pages = parse(settings.rate_limit_webhooks), parse(settings.rate_limit_forms)
    return [
        Rule("/hooks/email/", "webhooks", hooks, max_body=10 * KIB * KIB),
        Rule("/hooks/", "webhooks", hooks, max_body=64 * KIB),
        Rule("/unsubscribe/", "unsubscribe", parse(settings.rate_limit_unsubscribe),
             max_body=4 * KIB, methods=frozenset({"GET", "POST"})),
        Rule("/admin/programmes/", "forms", pages, max_body=MAX_UPLOAD + 64 * KIB),
        Rule("/", "forms", pages, max_body=256 * KIB),
    ]


def storage_for(settings: Settings) -> Storage:
    url = settings.rate_limit_redis_url or (
        settings.broker_url if settings.broker_url.startswith(("redis://", "rediss://")) else "")
    if not url:
        return MemoryStorage()
    # Short timeouts: a slow count must not hold up a webhook (it is then let through).
    return RedisStorage(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                        key_prefix=f"{settings.redis_key_prefix}LIMITER")


class Throttle:
    """ASGI middleware: 429 past a client's rate, 413 past a path's body size."""

    def __init__(self, app: ASGIApp, settings: Settings,
                 storage: Callable[[Settings], Storage] = storage_for) -> None:
        self.app, self.rules = app, rules(settings)
        store = storage(settings)
        # The synchronous client, off the event loop when it talks to Redis: one connection
        # pool for every request, whatever loop serves it.
        self.in_memory = isinstance(store, MemoryStorage)
        self.limiter = MovingWindowRateLimiter(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._rule(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if not await self._allowed(rule, scope):
            await _too_many(rule)(scope, receive, send)
            return
        try:
            body = await _read_body(receive, rule.max_body)
        except _TooLarge:
            await _too_large(rule)(scope, receive, send)
            return
        if body is not None:  # None: the client went away before the end
            await self.app(scope, _replay(body, receive), send)

    async def _allowed(self, rule: Rule, scope: Scope) -> bool:
        if rule.rate is None:
            return True
        hit = (rule.rate, rule.family, _client(scope))
        try:
            if self.in_memory:
                return self.limiter.hit(*hit)
            return await run_in_threadpool(self.limiter.hit, *hit)
        except Exception as error:  # the count's store is down: let people through
            log.warning("rate limit not checked (%s); request allowed", type(error).__name__)
            return True

    def _rule(self, scope: Scope) -> Rule | None:
        if scope["type"] != "http":
            return None
        path, method = scope["path"], scope["method"]
        return next((r for r in self.rules if path.startswith(r.prefix) and method in r.methods),
                    None)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _too_many(rule: Rule) -> PlainTextResponse:
    seconds = rule.rate.get_expiry() if rule.rate is not None else 60
    return PlainTextResponse(
        f"Too many requests from your address. Wait {seconds} seconds and try again.",
        status_code=429, headers={"Retry-After": str(seconds)})


def _too_large(rule: Rule) -> PlainTextResponse:
    return PlainTextResponse(
        f"The request body is larger than {rule.max_body // KIB} KiB, the most this address "
        "takes. Send less.", status_code=413)


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body; None when the client disconnects first. Raises _TooLarge as soon as
    it passes ``limit``: nothing more is read."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
