"""The accounts page and the audit log (the admin role), and `coach admin` on the command line:
each change audited, bad input refused with what to do and nothing changed."""

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from coach.admin.audit import audit, newest
from coach.admin.passwords import check_password
from coach.admin.switches import require_totp
from coach.cli.main import app
from tests.admin.support import PASSWORD, alert, login, post, signed_in_as
from tests.web.support import row_counts

runner = CliRunner()


@pytest.fixture
def admin(client, accounts):
    """The client, signed in as an admin; the admin's account."""
    account = accounts.add("boss@example.org", "admin")
    login(client, "boss@example.org")
    return account


def test_an_admin_adds_an_account_and_sees_its_link_once(client, admin, accounts):
    response = post(client, "/admin/accounts", {"email": "New@Example.org", "role": "safety"},
                    form_page="/admin/accounts")
    assert response.status_code == 200
    link = re.search(r'<p class="secret" id="link">(\S+)</p>', response.text).group(1)
    assert link.startswith("http://127.0.0.1:8000/admin/set-password/")
    assert 'id="link"' not in client.get("/admin/accounts").text, "shown once"
    added = accounts.get("new@example.org")
    assert added.role == "safety" and added.password_hash is None
    assert [(a, i, d) for a, i, d in accounts.actions()][-2:] == [
        ("account.added", admin.id, "role safety"), ("account.password-link", admin.id, "")]


@pytest.mark.parametrize(("data", "says"), [
    ({"email": "not-an-email", "role": "author"}, "is not an email address"),
    ({"email": "x@example.org", "role": "root"}, "is not a role"),
    ({"email": "boss@example.org", "role": "author"}, "exists already"),
])
def test_bad_input_on_the_accounts_page_changes_nothing(client, admin, factory, data, says):
    before = row_counts(factory)
    response = post(client, "/admin/accounts", data, form_page="/admin/accounts")
    assert response.status_code == 400 and says in alert(response.text)
    assert row_counts(factory) == before


def test_role_change_disable_and_link_are_audited_and_take_effect_at_once(
        make_client, client, admin, accounts):
    other = accounts.add("ann@example.org", "author")
    theirs = make_client()
    login(theirs, "ann@example.org")
    assert theirs.get("/admin/audit").status_code == 403
    done = post(client, f"/admin/accounts/{other.id}/role", {"role": "admin"},
                form_page="/admin/accounts")
    assert "ann@example.org is now admin." in done.text
    assert signed_in_as(theirs) is None, "a new role signs the account out"
    login(theirs, "ann@example.org")
    assert theirs.get("/admin/audit").status_code == 200
    linked = post(client, f"/admin/accounts/{other.id}/link", form_page="/admin/accounts")
    assert "/admin/set-password/" in linked.text
    post(client, f"/admin/accounts/{other.id}/disable", form_page="/admin/accounts")
    assert accounts.get("ann@example.org").disabled
    assert signed_in_as(theirs) is None
    assert login(theirs, "ann@example.org").status_code == 400
    mine = [(a, d) for a, i, d in accounts.actions() if i == admin.id]
    assert ("account.role-changed", "author to admin") in mine
    assert ("account.password-link", "") in mine and ("account.disabled", "") in mine


def test_an_admin_cannot_lock_themselves_out(client, admin, accounts):
    for action, data in (("disable", {}), ("role", {"role": "author"})):
        response = post(client, f"/admin/accounts/{admin.id}/{action}", data,
                        form_page="/admin/accounts")
        assert response.status_code == 400 and "ask another admin" in alert(response.text)
    assert accounts.get("boss@example.org").role == "admin"
    assert not accounts.get("boss@example.org").disabled
    assert post(client, "/admin/accounts/999/disable", form_page="/admin/accounts"
                ).status_code == 400


def test_requiring_a_second_factor_is_audited(client, admin, factory, accounts):
    page = post(client, "/admin/accounts/require-totp", {"require": "on"},
                form_page="/admin/accounts")
    assert "Every account now needs a second factor" in page.text
    with factory() as session:
        assert require_totp(session)
    assert ("settings.require-totp", admin.id, "on") in accounts.actions()


def test_the_audit_log_is_newest_first_and_paged(client, admin, factory, clock):
    with factory.begin() as session:
        for n in range(60):
            audit(session, None, "reply.viewed", "reply", n, at=clock() + timedelta(seconds=n))
    first = client.get("/admin/audit").text
    assert first.index("reply 59") < first.index("reply 58")
    assert "reply 10" in first and "reply 9<" not in first
    assert 'href="/admin/audit?page=2">Older entries' in first
    second = client.get("/admin/audit?page=2").text
    assert "reply 9<" in second and "Newer entries" in second
    assert client.get("/admin/audit?page=-3").status_code == 200
    assert client.get("/admin/audit?page=abc").status_code == 200
    with factory() as session:
        entries, older = newest(session, 1, size=5)
    assert [e.object_id for e, _ in entries] == ["59", "58", "57", "56", "55"] and older


def test_a_password_hashed_with_old_parameters_is_rehashed_at_sign_in(client, accounts, factory):
    old = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    account = accounts.add("ada@example.org", "admin")
    with factory.begin() as session:
        session.get(type(account), account.id).password_hash = old
    assert login(client, "ada@example.org").status_code == 303
    new = accounts.get("ada@example.org").password_hash
    assert new != old and "m=65536" in new and check_password(new, PASSWORD)[0]


# The command line --------------------------------------------------------------------------------

def test_coach_admin_add_prints_a_one_time_link(settings, client, accounts):
    result = runner.invoke(app, ["admin", "add", "Ops@Example.org", "--role", "operator"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/admin/set-password/")
    path = link.split("8000", 1)[1]
    assert client.get(path).status_code == 200
    listed = runner.invoke(app, ["admin", "list"]).output
    assert "ops@example.org  operator  two-step off  last sign-in never  no password yet" \
        in listed
    assert [a for a, _, _ in accounts.actions()] == ["account.added", "account.password-link"]


@pytest.mark.parametrize("args", [
    ["admin", "add", "nobody", "--role", "admin"],
    ["admin", "add", "x@example.org", "--role", "superuser"],
    ["admin", "add", "x@example.org"],
    ["admin", "disable", "ghost@example.org"],
    ["admin", "link", "ghost@example.org"],
    ["admin", "reset-totp", "ghost@example.org"],
    ["admin", "require-totp", "maybe"],
])
def test_bad_commands_exit_non_zero_and_change_nothing(settings, factory, args):
    before = row_counts(factory)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert row_counts(factory) == before


def test_coach_admin_disable_and_require_totp(settings, factory, accounts, make_client):
    accounts.add("ann@example.org", "author")
    client = make_client()
    login(client, "ann@example.org")
    assert runner.invoke(app, ["admin", "disable", "ANN@example.org"]).exit_code == 0
    assert signed_in_as(client) is None
    assert runner.invoke(app, ["admin", "disable", "ann@example.org"]).exit_code == 2
    assert runner.invoke(app, ["admin", "require-totp", "on"]).exit_code == 0
    with factory() as session:
        assert require_totp(session)
    assert "second factor required of everyone: on" in runner.invoke(app, ["admin", "list"]
                                                                      ).output
    assert [a for a, _, _ in accounts.actions()][-3:] == [
        "login", "account.disabled", "settings.require-totp"]


def test_coach_admin_reset_totp(settings, factory, accounts):
    accounts.add("ann@example.org", "author", totp=True)
    reset = runner.invoke(app, ["admin", "reset-totp", "ann@example.org"])
    assert reset.exit_code == 0 and "reset the second factor of ann@example.org" in reset.output
    assert accounts.get("ann@example.org").totp_secret is None
    again = runner.invoke(app, ["admin", "reset-totp", "ann@example.org"])
    assert again.exit_code == 2 and "no second factor to reset" in again.output
