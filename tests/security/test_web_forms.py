"""Items 13, 15 and 16 of the security review, as a stranger on the web would try them:
cross-site form posts, floods, oversized bodies, and secrets or addresses in URLs and logs."""

import importlib
import logging
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import redis
from limits.storage import MemoryStorage, RedisStorage
from starlette.routing import Route
from starlette.testclient import TestClient

from coach.cli.run import serves_dev_inbox
from coach.settings import Settings, get_settings
from coach.subscribers.tokens import make_token
from coach.web.access_log import HideTokens, hide_tokens_in_access_logs
from coach.web.app import create_app
from coach.web.csrf import exempt
from tests.web.support import Clock, Enqueue, row_counts
from tests.web.test_pages import PHONE, add, added_id, answer, form_token, subscriber

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


# CSRF (item 15) ---------------------------------------------------------------------------------

def test_another_site_cannot_add_a_subscriber_or_answer_as_one(client, factory):
    subscriber_id = added_id(add(client))
    before = row_counts(factory)
    stranger = TestClient(client.app, follow_redirects=False)  # no cookie, no token
    forged = {"name": "Eve", "phone": "+447911123457", "focus": "honesty", "tz": "UTC"}
    assert stranger.post("/subscribers", data=forged).status_code == 403
    assert stranger.post(f"/inbox/{subscriber_id}/reply",
                         data={"text": "STOP", "channel": "sms"}).status_code == 403
    assert row_counts(factory) == before
    assert subscriber(factory, subscriber_id).sms_consent is True


def test_a_token_from_another_visitor_or_another_site_is_refused(client, factory):
    subscriber_id = added_id(add(client))
    before = row_counts(factory)
    attacker = TestClient(client.app, follow_redirects=False)
    their_token = form_token(attacker, "/")  # valid, but for the attacker's own cookie
    response = client.post(f"/inbox/{subscriber_id}/reply",
                           data={"text": "STOP", "csrf_token": their_token})
    assert response.status_code == 403
    assert "reload the page" in response.text
    ours = form_token(client, "/")
    response = client.post(f"/inbox/{subscriber_id}/reply", headers={"Origin": "https://evil.example"},
                           data={"text": "STOP", "csrf_token": ours})
    assert response.status_code == 403
    assert row_counts(factory) == before


def test_the_cookie_is_http_only_and_same_site(client):
    client.get("/")
    cookie = client.get("/").headers.get("set-cookie") or _first_cookie(client)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _first_cookie(client: TestClient) -> str:
    fresh = TestClient(client.app)
    return fresh.get("/").headers["set-cookie"]


def test_every_post_route_is_guarded_or_proves_its_sender_another_way(client):
    """Walks the app's routes: a new form added without CSRF fails here."""
    for route in client.app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            guarded = getattr(route, "csrf_guarded", False)
            assert guarded or exempt(route.path), f"POST {route.path} has no CSRF guard"
            assert not (guarded and exempt(route.path))


# The dev inbox is for a developer's own machine (item 8) ----------------------------------------

@pytest.mark.parametrize(("env", "host", "served"), [
    ("development", "127.0.0.1", True), ("development", "localhost", True),
    ("development", "::1", True), ("test", "127.0.0.1", True),
    ("development", "0.0.0.0", False), ("development", "192.168.1.10", False),
    ("development", "coach.example.org", False), ("production", "127.0.0.1", False),
])
def test_the_dev_inbox_is_served_only_in_development_on_a_loopback_address(env, host, served):
    assert serves_dev_inbox(env, host) is served


def test_the_production_entry_point_never_serves_the_dev_inbox(settings, published, monkeypatch):
    """``uvicorn coach.web.asgi:app`` with COACH_ENV unset is where it used to leak."""
    monkeypatch.delenv("COACH_ENV")
    get_settings.cache_clear()
    module = importlib.import_module("coach.web.asgi")
    with TestClient(importlib.reload(module).app) as web:
        assert web.get("/health").status_code == 200
        home = web.get("/")
        assert 'action="/join"' in home.text and "dev inbox" not in home.text
        assert web.get("/inbox/1").status_code == 404


def test_an_app_asked_for_the_inbox_in_production_still_does_not_serve_it(settings):
    production = settings.model_copy(update={"env": "production"})
    with TestClient(create_app(production, Enqueue(settings, Clock()), dev_inbox=True)) as web:
        assert "dev inbox" not in web.get("/").text, "/ is the sign-up page"
        assert web.get("/inbox/1").status_code == 404


# Rate and size limits (item 16) ----------------------------------------------------------------

@pytest.fixture
def tight(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_forms": "3/minute",
                                       "rate_limit_unsubscribe": "2/minute",
                                       "rate_limit_webhooks": "2/minute"})


def app_client(settings: Settings, factory: "sessionmaker[Session]", address: str = "203.0.113.5"
               ) -> TestClient:
    app = create_app(settings, Enqueue(settings, Clock()), dev_inbox=True)
    return TestClient(app, follow_redirects=False, client=(address, 40000))


def test_one_client_is_held_to_its_rate_and_told_when_to_come_back(tight, factory, published):
    client = app_client(tight, factory)
    token = form_token(client, "/")
    codes = [client.post("/subscribers", data={"csrf_token": token}).status_code
             for _ in range(4)]
    assert codes[:3] == [400, 400, 400] and codes[3] == 429
    refused = client.post("/subscribers", data={"csrf_token": token})
    assert int(refused.headers["Retry-After"]) == 60
    assert "Wait 60 seconds" in refused.text
    other = TestClient(client.app, follow_redirects=False, client=("198.51.100.7", 40000))
    assert other.post("/subscribers", data={"csrf_token": form_token(other, "/")}
                      ).status_code == 400, "another client has its own count"


def test_unsubscribe_links_and_webhooks_are_rate_limited(tight, factory, published):
    client = app_client(tight, factory)
    codes = [client.get("/unsubscribe/1-0123456789abcdef").status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    hooks = [client.post("/hooks/twilio/status", data={}).status_code for _ in range(3)]
    assert hooks == [403, 403, 429]


def test_an_oversized_body_is_refused_before_it_is_read(settings, factory, published):
    client = app_client(settings, factory)
    big = {"From": PHONE, "MessageSid": "SM" + "1" * 32, "Body": "x" * 100_000}
    response = client.post("/hooks/twilio/sms", data=big)
    assert response.status_code == 413
    assert "64 KiB" in response.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"Body=" + b"x" * 1024 + b"&"

    assert client.post("/hooks/twilio/sms", content=chunks(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}
                       ).status_code == 413


def test_web_processes_share_one_count_on_redis(tight, factory, published, redis_url):
    on_redis = tight.model_copy(update={"rate_limit_redis_url": redis_url})
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    clients = [app_client(on_redis, factory, address) for _ in range(2)]  # two web processes
    try:
        codes = [clients[n % 2].get("/unsubscribe/1-0123456789abcdef").status_code
                 for n in range(3)]
        assert codes == [404, 404, 429], "the second process saw the first one's requests"
    finally:
        store = redis.Redis.from_url(redis_url)
        store.delete(*store.keys(f"*{address}*") or ["none"])


def test_when_the_count_cannot_be_reached_people_get_through(tight, factory, published, caplog):
    down = tight.model_copy(update={"rate_limit_redis_url": "redis://127.0.0.1:1/0"})
    client = app_client(down, factory)
    with caplog.at_level(logging.WARNING):
        codes = [client.get("/unsubscribe/1-0123456789abcdef").status_code for _ in range(3)]
    assert codes == [404, 404, 404]
    assert "rate limit not checked (ConnectionError)" in caplog.text


def test_memory_counts_are_the_embedded_default(settings):
    from coach.web.throttle import storage_for

    assert isinstance(storage_for(settings), MemoryStorage)
    on_redis = settings.model_copy(update={"broker_url": "redis://127.0.0.1:6379/0"})
    assert isinstance(storage_for(on_redis), RedisStorage)


# Tokens and addresses in URLs and logs (item 13) --------------------------------------------------

def test_access_logs_keep_the_path_but_not_the_token(settings):
    token = make_token(settings.secret_key, 7, "unsubscribe")
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("203.0.113.5:1", "POST",
                                                           f"/unsubscribe/{token}", "1.1", 200),
                               None)
    HideTokens().filter(record)
    assert token not in record.getMessage()
    assert '"POST /unsubscribe/… HTTP/1.1" 200' in record.getMessage()
    hide_tokens_in_access_logs()
    hide_tokens_in_access_logs()
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, HideTokens) for f in filters) == 1


@pytest.mark.parametrize("path", ["/confirm/12.1772409600.abcDEF_-12", "/manage/3.17.x-y_z",
                                  "/erase/3.17.abc", "/admin/set-password/9.1772409600.q-w_e"])
def test_every_link_that_acts_as_someone_is_hidden_in_access_logs(path):
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("203.0.113.5:1", "GET", path, "1.1",
                                                           200), None)
    HideTokens().filter(record)
    where, token = path.rsplit("/", 1)
    assert token not in record.getMessage() and f"{where}/…" in record.getMessage()


def test_no_page_puts_an_address_or_an_error_in_its_url(client):
    response = add(client, phone="+44 12", email="")
    assert response.status_code == 400
    assert "location" not in response.headers
    subscriber_id = added_id(add(client))
    assert answer(client, subscriber_id, "2").headers["location"] == f"/inbox/{subscriber_id}"
    for page in ("/", f"/inbox/{subscriber_id}"):
        links = re.findall(r'(?:href|action)="([^"]+)"', client.get(page).text)
        assert not [link for link in links if "@" in link or "%40" in link or "+44" in link]
