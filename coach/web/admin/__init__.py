"""The admin pages, behind a sign-in, each checking its role on the server.

:func:`routes` is mounted by coach/web/app.py. Each module in PARTS has ``routes(web)``; every
route is served with the app's context (for ``guard.requires``), ``Cache-Control: no-store``,
and, in production, only over https: a request that came over plain http (and not through a
proxy that says https, which uvicorn honours with ``--proxy-headers``) gets a 403 page that
explains, and no page's own code runs.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.web.admin import (
    account_pages,
    audit_page,
    home,
    programmes,
    releases,
    set_password,
    sign_in,
    two_step,
)
from coach.web.admin.guard import WEB_KEY, Endpoint
from coach.web.admin.pages import render
from coach.web.context import Web

PARTS = (sign_in, set_password, home, two_step, account_pages, audit_page, programmes,
         releases)


def routes(web: Web) -> list[Route]:
    return [_served(web, route) for part in PARTS for route in part.routes(web)]


def _served(web: Web, route: Route) -> Route:
    served = Route(route.path, _in_context(web, route.endpoint),
                   methods=sorted(route.methods or ()), name=route.name)
    # The permission the page needs (None: a page for people not signed in), for the test that
    # walks every admin route with every role.
    served.permission = getattr(route.endpoint, "permission", None)  # type: ignore[attr-defined]
    return served


def _in_context(web: Web, endpoint: Endpoint) -> Endpoint:
    async def served(request: Request) -> Response:
        request.scope[WEB_KEY] = web
        if web.settings.env == "production" and request.url.scheme != "https":
            response = render(request, "admin/https_only.html", status_code=403)
        else:
            response = await endpoint(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return served
