"""The web app, assembled from its parts: health, webhooks, unsubscribe pages, and the dev inbox
when a developer runs it on their own machine.

Every POST form is CSRF-guarded by construction (coach/web/csrf.py), and every client is held
to rates and body sizes (coach/web/throttle.py).
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from coach.db import session_factory, utcnow
from coach.settings import Settings
from coach.web import hooks_email, hooks_twilio, inbox, manage, my_data, signup, unsubscribe
from coach.web.admin import routes as admin_routes
from coach.web.context import Enqueue, Web
from coach.web.csrf import CsrfCookie, guard_forms
from coach.web.throttle import Throttle

# The dev inbox shows everyone's words to anyone who reaches it: only for a developer's own
# machine, never for any address another person can reach.
INBOX_ENVIRONMENTS = ("development", "test")


def create_app(settings: Settings, enqueue: Enqueue, clock: Callable[[], datetime] = utcnow,
               dev_inbox: bool = False) -> Starlette:
    """``dev_inbox``: serve the developer inbox too (``coach run`` on a loopback address)."""
    web = Web(settings, session_factory(settings.effective_database_url), enqueue, clock)
    routes: list[BaseRoute] = [Route("/health", _health(web))]
    routes += hooks_email.routes(web)
    routes += unsubscribe.routes(web)
    routes += hooks_twilio.routes(web)
    with_inbox = dev_inbox and settings.env in INBOX_ENVIRONMENTS
    routes += signup.routes(web, at_root=not with_inbox)  # the inbox keeps / for a developer
    routes += manage.routes(web)
    routes += my_data.routes(web)
    if with_inbox:
        routes += inbox.routes(web)
    routes += admin_routes(web)  # /admin: accounts, roles, audit (coach/web/admin/)
    secure = settings.public_url.startswith("https://")
    app = Starlette(routes=guard_forms(routes, settings.public_url), middleware=[
        Middleware(Throttle, settings=settings),
        Middleware(CsrfCookie, secret_key=settings.secret_key, secure=secure),
    ])
    app.state.secret_key = settings.secret_key
    return app


def _health(web: Web) -> Callable[[Request], object]:
    def check() -> None:
        with web.factory() as session:
            session.execute(text("SELECT 1"))

    async def health(_: Request) -> Response:
        await run_in_threadpool(check)
        return JSONResponse({"status": "ok", "database": "ok"})

    return health
