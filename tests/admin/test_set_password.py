"""The one-time link that sets an admin's password: once, within 48 hours, the newest only."""

from datetime import timedelta

import pytest

from coach.admin.accounts import add_account, disable, find_account, password_link, set_password
from coach.admin.passwords import check_password
from coach.admin.sessions import Lifetimes, start
from coach.web.admin.guard import COOKIE
from tests.admin.support import login, post, signed_in_as

NEW = "a brand new passphrase here"


@pytest.fixture
def link_for(factory, settings, clock):
    """Adds an account and returns the path of its set-password link."""
    def make(email: str = "ada@example.org", role: str = "author") -> str:
        with factory.begin() as session:
            account = add_account(session, email, role, clock())
            return password_link(settings, session, account, clock()).split("8000", 1)[1]
    return make


def set_it(client, path: str, password: str = NEW, again: str | None = None):
    return post(client, path, {"password": password, "again": password if again is None
                               else again})


def test_the_link_sets_a_password_once(client, link_for, accounts):
    path = link_for()
    assert path.startswith("/admin/set-password/")
    assert "Set your password" in client.get(path).text
    response = set_it(client, path)
    assert response.headers["location"] == "/admin/login?done=password"
    assert check_password(accounts.get("ada@example.org").password_hash, NEW)[0]
    assert login(client, "ada@example.org", NEW).status_code == 303
    again = client.get(path)
    assert again.status_code == 410 and "This link has been used" in again.text
    assert set_it(client, path, "someone else's password").status_code == 410
    assert check_password(accounts.get("ada@example.org").password_hash, NEW)[0]
    assert [a for a, _, _ in accounts.actions()] == [
        "account.added", "account.password-link", "account.password-set", "login"]


def test_the_link_expires_after_48_hours(client, link_for, clock, accounts):
    path = link_for()
    clock.now += timedelta(hours=48, seconds=1)
    response = client.get(path)
    assert response.status_code == 410 and "This link has expired" in response.text
    assert set_it(client, path).status_code == 410
    assert accounts.get("ada@example.org").password_hash is None


def test_a_new_link_ends_the_old_one(client, link_for, settings, factory, clock):
    old = link_for()
    clock.now += timedelta(minutes=1)
    with factory.begin() as session:
        account = find_account(session, "ada@example.org")
        assert account is not None
        new = password_link(settings, session, account, clock()).split("8000", 1)[1]
    assert client.get(old).status_code == 410
    assert set_it(client, new).status_code == 303


@pytest.mark.parametrize("token", ["x", "1.1795647909.forged", "2.1795647909.abc", "é" * 10,
                                   "a" * 500])
def test_a_forged_link_is_refused(client, link_for, token, accounts):
    link_for()
    response = client.get(f"/admin/set-password/{token}")
    assert response.status_code == 404 and "This link does not work" in response.text
    assert accounts.get("ada@example.org").password_hash is None


def test_a_disabled_accounts_link_does_not_work(client, link_for, factory, clock, accounts):
    path = link_for()
    with factory.begin() as session:
        account = find_account(session, "ada@example.org")
        assert account is not None
        disable(session, account, clock())
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(("password", "again", "says"), [
    ("short", None, "at least 12 characters"),
    ("a long enough password", "a different password", "not the same"),
    (" " * 20, None, "more than spaces"),
    ("x" * 300, None, "at most 256"),
])
def test_a_bad_password_says_what_to_do_and_keeps_the_link(client, link_for, accounts,
                                                           password, again, says):
    path = link_for()
    response = set_it(client, path, password, again)
    assert response.status_code == 400 and says in response.text
    assert accounts.get("ada@example.org").password_hash is None
    assert set_it(client, path).status_code == 303, "the link still works"


def test_a_new_password_signs_the_account_out_everywhere(client, make_client, link_for,
                                                         factory, clock, settings, accounts):
    path = link_for()
    set_it(client, path)
    other = make_client()
    login(other, "ada@example.org", NEW)
    assert signed_in_as(other) == "ada@example.org"
    with factory.begin() as session:
        account = find_account(session, "ada@example.org")
        assert account is not None
        start(session, account, clock(), Lifetimes.of(settings))
        set_password(session, account, "yet another long passphrase", clock())
    assert signed_in_as(other) is None
    assert other.cookies.get(COOKIE)
