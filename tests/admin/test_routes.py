"""Every admin route, with every role and with nobody signed in: allowed or refused exactly as
coach/admin/roles.py's ROLE_CAN says. A page added without a guard fails here."""

import re

import pytest
from starlette.routing import Route

from coach.admin.roles import PERMISSIONS, ROLE_CAN, ROLES, can
from coach.web.admin import routes as admin_routes
from coach.web.context import Web
from tests.admin.support import login, token_of

# Pages for people not signed in (yet): everything else under /admin must name a permission.
PUBLIC = {"/admin/login", "/admin/login/code", "/admin/logout", "/admin/set-password/{token}"}


def walked(settings, factory, clock) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) for every admin route."""
    web = Web(settings, factory, lambda ids: None, clock)
    return sorted((method, route.path, route.permission)  # type: ignore[attr-defined]
                  for route in admin_routes(web) for method in (route.methods or ())
                  if method != "HEAD")


def test_every_admin_route_is_guarded_or_public(client, settings, factory, clock):
    found = walked(settings, factory, clock)
    assert found, "no admin routes"
    for method, path, permission in found:
        assert permission in PERMISSIONS or (permission is None and path in PUBLIC), \
            f"{method} {path} has no @requires(permission)"
    mounted = {(m, r.path) for r in client.app.routes if isinstance(r, Route)
               and r.path.startswith("/admin") for m in (r.methods or ()) if m != "HEAD"}
    assert mounted == {(m, p) for m, p, _ in found}, "admin routes go through PARTS"


def test_the_permission_table_is_what_the_issue_asks():
    assert set(ROLE_CAN) == set(ROLES)
    assert ROLE_CAN["author"] < ROLE_CAN["publisher"], "a publisher can do what an author can"
    assert [r for r in ROLES if can(r, "replies.read")] == ["safety"]
    assert [r for r in ROLES if can(r, "flags.work")] == ["safety"]
    assert [r for r in ROLES if can(r, "accounts.manage")] == ["admin"]
    assert [r for r in ROLES if can(r, "versions.publish")] == ["publisher"]
    assert not can("admin", "replies.read") and not can("admin", "drafts.edit")
    assert not can("nobody", "home")
    with pytest.raises(ValueError, match="unknown permission"):
        can("admin", "everything")


def test_requires_refuses_a_permission_nobody_has():
    from coach.web.admin.guard import requires

    with pytest.raises(ValueError, match="add it to ROLE_CAN"):
        requires("drafts.eddit")


def _path(path: str, target: int) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: str(target) if ":int" in m.group(0) else "x", path)


def test_every_route_with_every_role(make_client, accounts, settings, factory, clock):
    target = accounts.add("target@example.org", "author").id
    clients = {None: make_client()}
    for role in ROLES:
        accounts.add(f"{role}@example.org", role)
        clients[role] = make_client()
        assert login(clients[role], f"{role}@example.org").status_code == 303
    tokens = {role: token_of(c) for role, c in clients.items()}
    checked = 0
    for method, path, permission in walked(settings, factory, clock):
        if permission is None:
            continue
        url = _path(path, target)
        for role, client in clients.items():
            response = client.request(method, url, data={"csrf_token": tokens[role]}
                                      if method == "POST" else None)
            where = f"{role or 'anonymous'} {method} {url}"
            if role is None:
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/admin/login?next="), where
            elif can(role, permission):  # let through: the page's own answer, whatever it is
                assert response.status_code not in (403, 405) and response.status_code < 500, \
                    where
                assert not response.headers.get("location", "").startswith("/admin/login"), \
                    where
                assert response.status_code != 404 or "{" in path, where  # no such object
            else:
                assert response.status_code == 403, where
                assert "This page is not for your role" in response.text, where
            checked += 1
    assert checked >= 6 * 8


def test_the_nav_and_home_show_only_what_the_role_may_do(make_client, accounts):
    for role in ROLES:
        accounts.add(f"{role}@example.org", role)
        client = make_client()
        login(client, f"{role}@example.org")
        page = client.get("/admin").text
        nav = re.search(r'<nav aria-label="Admin pages">(.*?)</nav>', page, re.S).group(1)
        assert ('href="/admin/accounts"' in nav) is (role == "admin"), role
        assert ('href="/admin/audit"' in nav) is (role == "admin"), role
        assert ("Read what people write in their replies" in page) is (role == "safety")
        assert ("Publish a draft as a new version" in page) is (role == "publisher")
