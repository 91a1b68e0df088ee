"""The web app, assembled from its parts: health, and the dev inbox outside production."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coach.db import session_factory, utcnow
from coach.settings import Settings
from coach.web import hooks_email, hooks_twilio, inbox, unsubscribe
from coach.web.context import Enqueue, Web


def create_app(settings: Settings, enqueue: Enqueue,
               clock: Callable[[], datetime] = utcnow) -> Starlette:
    web = Web(settings, session_factory(settings.effective_database_url), enqueue, clock)
    routes = [Route("/health", _health(web))]
    routes += hooks_email.routes(web)
    routes += unsubscribe.routes(web)
    routes += hooks_twilio.routes(web)
    if settings.env != "production":  # the dev inbox shows everyone's replies to anyone
        routes += inbox.routes(web)
    return Starlette(routes=routes)


def _health(web: Web) -> Callable[[Request], object]:
    def check() -> None:
        with web.factory() as session:
            session.execute(text("SELECT 1"))

    async def health(_: Request) -> Response:
        await run_in_threadpool(check)
        return JSONResponse({"status": "ok", "database": "ok"})

    return health
