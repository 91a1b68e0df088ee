"""``/admin``: what the signed-in role may do, with links to the pages that exist."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.admin.roles import DESCRIBED, HOME, ROLE_CAN
from coach.web.admin.guard import requires
from coach.web.admin.pages import render
from coach.web.context import Web


def routes(web: Web) -> list[Route]:
    @requires(HOME)
    async def home(request: Request) -> Response:
        allowed = ROLE_CAN[request.state.admin.role]
        return render(request, "admin/home.html", {
            "may": [text for permission, text in DESCRIBED.items() if permission in allowed]})

    return [Route("/admin", home, methods=["GET"])]
