"""Rendering admin pages: every page gets the account signed in and a nav of what its role
may open, and is never cached (they show what only some roles may read)."""

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from coach.admin.models import AdminAccount
from coach.admin.roles import ACCOUNTS_MANAGE, AUDIT_READ, HOME, PROGRAMMES_VIEW, can
from coach.web.admin.guard import web_of


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    permission: str


# The admin nav, in order: add a page's entry here when it can be opened.
NAV: list[NavItem] = [
    NavItem("Home", "/admin", HOME),
    NavItem("Programmes", "/admin/programmes", PROGRAMMES_VIEW),
    NavItem("Accounts", "/admin/accounts", ACCOUNTS_MANAGE),
    NavItem("Audit log", "/admin/audit", AUDIT_READ),
]


def nav_for(account: AdminAccount | None) -> list[NavItem]:
    return [item for item in NAV if account and can(account.role, item.permission)]


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> Response:
    """An admin template (``admin/….html``) with ``admin``, ``nav`` and ``here``."""
    account = getattr(request.state, "admin", None)
    return web_of(request).pages.TemplateResponse(request, name, {
        "admin": account, "nav": nav_for(account), "here": request.url.path,
        **(context or {})}, status_code=status_code)


def forbidden(request: Request, permission: str) -> Response:
    return render(request, "admin/forbidden.html", {"permission": permission},
                  status_code=403)
