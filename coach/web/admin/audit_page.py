"""``/admin/audit``: the audit log, newest first, a page at a time (the admin role)."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.admin.audit import newest
from coach.admin.roles import AUDIT_READ
from coach.web.admin.guard import requires
from coach.web.admin.pages import render
from coach.web.context import Web

MAX_PAGE = 100_000


def routes(web: Web) -> list[Route]:
    @requires(AUDIT_READ)
    async def audit_log(request: Request) -> Response:
        number = _page_number(request.query_params.get("page", "1"))
        entries, older = await run_in_threadpool(_read, web, number)
        return render(request, "admin/audit.html", {
            "entries": entries, "page": number, "older": older})

    return [Route("/admin/audit", audit_log, methods=["GET"])]


def _page_number(text: str) -> int:
    return min(int(text), MAX_PAGE) if text.isdigit() and int(text) > 0 else 1


def _read(web: Web, number: int) -> tuple[list[dict[str, str]], bool]:
    with web.factory() as session:
        rows, older = newest(session, number)
    return [{"at": f"{e.at:%Y-%m-%d %H:%M:%S} UTC", "who": email or "(no account)",
             "action": e.action, "object": f"{e.object_type} {e.object_id}".strip(),
             "detail": e.detail} for e, email in rows], older
