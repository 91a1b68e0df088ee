"""Signing in and out, as a stranger, a careless admin and an attacker would try it."""

import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from coach.admin.models import AdminSession
from coach.admin.sign_in import check_password_login
from coach.web.admin.guard import COOKIE, safe_next
from coach.web.admin.sign_in import WRONG
from tests.admin.support import PASSWORD, alert, login, post, signed_in_as, token_of
from tests.web.support import row_counts


def test_the_right_password_signs_in_and_goes_where_the_person_was_going(client, accounts):
    accounts.add("ada@example.org", "admin")
    assert client.get("/admin/audit").headers["location"] == "/admin/login?next=/admin/audit"
    response = login(client, "ADA@example.org ", next_path="/admin/audit")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/audit")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/admin" in cookie and "Secure" not in cookie
    assert client.get("/admin/audit").status_code == 200
    assert accounts.get("ada@example.org").last_login_at is not None
    assert ("login", accounts.get("ada@example.org").id, "") in accounts.actions()


def test_the_cookie_is_secure_when_coach_is_reached_over_https(make_client, settings, accounts):
    accounts.add("ada@example.org", "admin")
    https = settings.model_copy(update={"public_url": "https://coach.example.org"})
    client = make_client(https, base_url="https://testserver")
    assert "Secure" in login(client, "ada@example.org").headers["set-cookie"]


@pytest.mark.parametrize(("email", "password", "reason"), [
    ("ada@example.org", "not the password at all", "wrong password"),
    ("nobody@example.org", PASSWORD, "unknown account"),
    ("off@example.org", PASSWORD, "account disabled"),
    ("new@example.org", PASSWORD, "no password set yet"),
    ("not an email", PASSWORD, "unknown account"),
])
def test_every_refusal_says_the_same_and_is_audited_without_the_password(
        client, accounts, factory, email, password, reason):
    accounts.add("ada@example.org", "admin")
    accounts.add("off@example.org", "admin", disabled=True)
    accounts.add("new@example.org", "author", password=None)
    before = {k: v for k, v in row_counts(factory).items() if k != "audit_entries"}
    response = login(client, email, password)
    assert response.status_code == 400 and alert(response.text) == WRONG
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert signed_in_as(client) is None
    [entry] = accounts.audit()
    assert (entry.action, entry.detail) == ("login.failed", reason)
    assert password not in repr(vars(entry)) and "not an email" not in repr(vars(entry))
    assert {k: v for k, v in row_counts(factory).items() if k != "audit_entries"} == before


def test_an_unknown_email_takes_about_as_long_as_a_wrong_password(factory, accounts, clock):
    accounts.add("ada@example.org", "admin")

    def timed(email: str, password: str) -> float:
        with factory.begin() as session:
            started = time.perf_counter()
            check_password_login(session, email, password, clock())
            return time.perf_counter() - started

    timed("ada@example.org", "warm up")
    wrong = statistics.median(timed("ada@example.org", "wrong") for _ in range(5))
    unknown = statistics.median(timed("nobody@example.org", "wrong") for _ in range(5))
    assert 0.5 < unknown / wrong < 2, (unknown, wrong)


def test_a_forged_session_cookie_or_one_read_from_the_database_signs_nobody_in(
        make_client, accounts, factory):
    accounts.add("ada@example.org", "admin")
    login(make_client(), "ada@example.org")
    with factory() as session:
        [stored] = session.scalars(select(AdminSession.id)).all()
    client = make_client()
    for forged in ("x" * 43, "", "a" * 4000, "../../etc", "%00" * 15, stored, stored[:43]):
        client.cookies.set(COOKIE, forged, path="/admin")
        assert client.get("/admin").headers["location"] == "/admin/login?next=/admin"


def test_signing_in_starts_a_new_session_and_ends_the_old_one(make_client, accounts):
    accounts.add("ada@example.org", "admin")
    first = make_client()
    login(first, "ada@example.org")
    old = first.cookies.get(COOKIE)
    login(first, "ada@example.org")
    new = first.cookies.get(COOKIE)
    assert old and new and old != new
    thief = make_client()
    thief.cookies.set(COOKIE, old, path="/admin")
    assert signed_in_as(thief) is None
    assert signed_in_as(first) == "ada@example.org"


def test_a_session_ends_after_30_idle_minutes(client, accounts, clock):
    accounts.add("ada@example.org", "admin")
    login(client, "ada@example.org")
    clock.now += timedelta(minutes=29)
    assert signed_in_as(client) == "ada@example.org"  # seen: the idle time starts again
    clock.now += timedelta(minutes=30, seconds=1)
    assert client.get("/admin").headers["location"].startswith("/admin/login")
    clock.now += timedelta(seconds=1)
    assert signed_in_as(client) is None, "an idle session does not come back"


def test_a_session_ends_12_hours_after_sign_in_however_busy(client, accounts, clock):
    accounts.add("ada@example.org", "admin")
    login(client, "ada@example.org")
    for _ in range(12 * 2 - 1):
        clock.now += timedelta(minutes=30)
        assert signed_in_as(client) == "ada@example.org"
    clock.now += timedelta(minutes=29)
    assert signed_in_as(client) == "ada@example.org"
    clock.now += timedelta(minutes=1)
    assert signed_in_as(client) is None


def test_session_lifetimes_are_settings(make_client, settings, accounts, clock):
    accounts.add("ada@example.org", "admin")
    short = make_client(settings.model_copy(update={"admin_session_idle_minutes": 5}))
    login(short, "ada@example.org")
    clock.now += timedelta(minutes=6)
    assert signed_in_as(short) is None


def test_signing_out_ends_the_session_on_the_server(make_client, accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client()
    login(client, "ada@example.org")
    token = client.cookies.get(COOKIE)
    assert "Sign out" in client.get("/admin/logout").text
    response = post(client, "/admin/logout")
    assert response.headers["location"] == "/admin/login?done=out"
    assert "You have signed out." in client.get("/admin/login?done=out").text
    replay = make_client()
    replay.cookies.set(COOKIE, token, path="/admin")
    assert signed_in_as(replay) is None, "a copied cookie dies with the sign-out"
    assert [a for a, _, _ in accounts.actions()] == ["login", "logout"]


def test_the_sweep_forgets_sessions_that_can_sign_nobody_in(make_client, settings, factory,
                                                          accounts, clock):
    """Signed out, idle too long, past the absolute limit: deleted by beat's sweep; a live
    session and a new one pending its second factor stay."""
    from coach.admin.sessions import forget_ended

    accounts.add("ada@example.org", "admin")
    signed_out, idle, live = make_client(), make_client(), make_client()
    for client in (signed_out, idle, live):
        login(client, "ada@example.org")
    post(signed_out, "/admin/logout")
    clock.now += timedelta(minutes=20)
    assert signed_in_as(live) == "ada@example.org"
    clock.now += timedelta(minutes=11)  # idle: 31 minutes since it was last seen
    assert forget_ended(settings, clock.now) == 2
    assert signed_in_as(live) == "ada@example.org"
    with factory() as session:
        assert len(session.scalars(select(AdminSession)).all()) == 1
    clock.now += timedelta(hours=13)  # past the absolute limit, however busy
    assert forget_ended(settings, clock.now) == 1


def test_the_login_form_needs_its_csrf_token(client, accounts):
    accounts.add("ada@example.org", "admin")
    data = {"email": "ada@example.org", "password": PASSWORD}
    assert client.post("/admin/login", data=data).status_code == 403
    stranger = TestClient(client.app, follow_redirects=False)
    assert stranger.post("/admin/login", data={**data, "csrf_token": token_of(client)}
                         ).status_code == 403
    response = client.post("/admin/login", headers={"Origin": "https://evil.example"},
                           data={**data, "csrf_token": token_of(client)})
    assert response.status_code == 403
    assert signed_in_as(client) is None and accounts.audit() == []


# Rate limits ------------------------------------------------------------------------------------

def test_failed_sign_ins_are_limited_per_account_with_when_to_try_again(make_client, settings,
                                                                       accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client(settings.model_copy(update={"admin_login_rate_per_account":
                                                     "3/15 minutes"}))
    for _ in range(3):
        assert login(client, "ada@example.org", "guess guess guess").status_code == 400
    refused = login(client, "ada@example.org")  # even the right password, now
    assert refused.status_code == 429
    assert alert(refused.text) == ("Too many failed sign-ins for this account or from your "
                                   "address. Try again in 15 minutes.")
    assert 800 < int(refused.headers["retry-after"]) <= 900
    assert COOKIE not in refused.headers.get("set-cookie", "")
    assert [a for a, _, _ in accounts.actions()][-1] == "login.throttled"
    assert login(client, "other@example.org").status_code == 400, "another account may try"


def test_failed_sign_ins_are_limited_per_client(make_client, settings, accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client(settings.model_copy(update={"admin_login_rate_per_client":
                                                     "4/hour"}))
    for n in range(4):
        assert login(client, f"guess{n}@example.org").status_code == 400
    refused = login(client, "ada@example.org")
    assert refused.status_code == 429 and "Try again in 60 minutes" in refused.text
    elsewhere = make_client(settings.model_copy(update={"admin_login_rate_per_client":
                                                        "4/hour"}), client=("198.51.100.7", 1))
    assert login(elsewhere, "ada@example.org").status_code == 303


def test_good_sign_ins_do_not_count(make_client, settings, accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client(settings.model_copy(update={"admin_login_rate_per_account":
                                                     "2/15 minutes"}))
    for _ in range(4):
        assert login(client, "ada@example.org").status_code == 303


# Where a sign-in may lead ------------------------------------------------------------------------

HOSTILE = ["https://evil.example/admin", "//evil.example/admin", "/\\evil.example", "\\\\evil",
           "http:/evil.example", "/admin@evil.example", "javascript:alert(1)", "/join",
           "/admin/../join", " /admin", "/admin\r\nSet-Cookie: x=1", "/admin/login",
           "https:/admin", "/%2F%2Fevil.example", "//", "/adminx", "/admin/%2e%2e/join",
           "/admin/..", "/admin/\tx"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_next_never_leads_off_the_admin_pages(client, accounts, hostile):
    accounts.add("ada@example.org", "admin")
    response = login(client, "ada@example.org", next_path=hostile)
    assert response.headers["location"] in ("/admin", hostile)
    assert response.headers["location"].startswith("/admin")
    assert not response.headers["location"].startswith("/admin/login")
    form = client.get("/admin/login", params={"next": hostile}).text
    assert 'name="next" value="/admin"' in form or safe_next(hostile) == hostile


def test_safe_next_keeps_admin_paths_with_their_query():
    assert safe_next("/admin/audit?page=2") == "/admin/audit?page=2"
    assert safe_next("/admin") == "/admin"
    for hostile in HOSTILE:
        kept = safe_next(hostile)
        assert kept == "/admin", hostile


# Plain http in production -------------------------------------------------------------------------

@pytest.fixture
def production(settings):
    return settings.model_copy(update={"env": "production"})


def test_production_refuses_admin_pages_over_plain_http(make_client, production, accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client(production)
    for path in ("/admin", "/admin/login", "/admin/audit", "/admin/set-password/x"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "The admin pages need https" in response.text
        assert "--proxy-headers" in response.text
    assert client.get("/join").status_code == 200, "only the admin pages"


def test_a_forwarded_proto_header_alone_is_not_trusted(make_client, production):
    """Only uvicorn's --proxy-headers (from a trusted proxy) may turn the scheme to https."""
    client = make_client(production)
    response = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 403


def test_production_serves_admin_pages_over_https(make_client, production, accounts):
    accounts.add("ada@example.org", "admin")
    client = make_client(production, base_url="https://testserver")
    assert client.get("/admin/login").status_code == 200
    assert login(client, "ada@example.org").status_code == 303
    assert signed_in_as(client) == "ada@example.org"


def test_admin_pages_are_never_cached(client, accounts):
    accounts.add("ada@example.org", "admin")
    assert client.get("/admin/login").headers["cache-control"] == "no-store"
    login(client, "ada@example.org")
    assert client.get("/admin/audit").headers["cache-control"] == "no-store"
