"""TOTP: a code after the password when the account has one, or when every account must."""

import re
from datetime import timedelta

from coach.admin.second_factor import accepted_step, code_at, new_secret
from coach.admin.switches import set_require_totp
from coach.web.admin.guard import COOKIE
from coach.web.admin.sign_in import CODE_PATH, WRONG_CODE
from tests.admin.support import alert, login, post, signed_in_as


def code(client, value: str, next_path: str = "/admin"):
    return post(client, CODE_PATH, {"code": value, "next": next_path})


def test_an_account_with_a_second_factor_needs_its_code(client, accounts, clock):
    secret = accounts.add("ada@example.org", "admin", totp=True).totp_secret
    assert secret
    response = login(client, "ada@example.org", next_path="/admin/audit")
    assert response.headers["location"] == f"{CODE_PATH}?next=/admin/audit"
    assert signed_in_as(client) is None, "a password alone opens nothing"
    assert client.get("/admin/audit").status_code == 303
    assert "6-digit code" in client.get(CODE_PATH).text
    wrong = code(client, "000000" if code_at(secret, clock()) != "000000" else "111111")
    assert wrong.status_code == 400 and alert(wrong.text) == WRONG_CODE
    good = code(client, code_at(secret, clock()), "/admin/audit")
    assert (good.status_code, good.headers["location"]) == (303, "/admin/audit")
    assert signed_in_as(client) == "ada@example.org"
    assert [(a, d) for a, _, d in accounts.actions()] == [
        ("login.failed", "wrong or used code"), ("login", "")]


def test_a_code_works_once(make_client, accounts, clock):
    secret = accounts.add("ada@example.org", "admin", totp=True).totp_secret
    assert secret
    first, second = make_client(), make_client()
    login(first, "ada@example.org")
    used = code_at(secret, clock())
    assert code(first, used).status_code == 303
    login(second, "ada@example.org")
    assert code(second, used).status_code == 400, "a code seen over a shoulder is spent"
    clock.now += timedelta(seconds=30)
    assert code(second, code_at(secret, clock())).status_code == 303


def test_codes_from_the_neighbouring_steps_only(clock):
    secret = new_secret()
    now = clock()
    assert accepted_step(secret, code_at(secret, now - timedelta(seconds=30)), now, None)
    assert accepted_step(secret, code_at(secret, now + timedelta(seconds=30)), now, None)
    assert not accepted_step(secret, code_at(secret, now - timedelta(seconds=90)), now, None)
    for junk in ("", "12345", "1234567", "abcdef", "１２３４５６"):
        assert accepted_step(secret, junk, now, None) is None
    spaced = code_at(secret, now)
    assert accepted_step(secret, f"{spaced[:3]} {spaced[3:]}", now, None)


def test_the_code_step_lasts_5_minutes(client, accounts, clock):
    secret = accounts.add("ada@example.org", "admin", totp=True).totp_secret
    assert secret
    login(client, "ada@example.org")
    clock.now += timedelta(minutes=5, seconds=1)
    response = code(client, code_at(secret, clock()))
    assert response.headers["location"] == "/admin/login"
    assert signed_in_as(client) is None


def test_wrong_codes_count_toward_the_accounts_limit(make_client, settings, accounts, clock):
    secret = accounts.add("ada@example.org", "admin", totp=True).totp_secret
    assert secret
    client = make_client(settings.model_copy(update={"admin_login_rate_per_account":
                                                     "2/15 minutes"}))
    login(client, "ada@example.org")
    bad = "000000" if code_at(secret, clock()) != "000000" else "111111"
    assert code(client, bad).status_code == 400
    assert code(client, bad).status_code == 400
    refused = code(client, code_at(secret, clock()))
    assert refused.status_code == 429 and "Try again in 15 minutes" in refused.text


def test_when_required_an_account_sets_one_up_at_sign_in(client, accounts, factory, clock):
    accounts.add("ada@example.org", "author")
    with factory.begin() as session:
        set_require_totp(session, True, clock())
    assert login(client, "ada@example.org").headers["location"].startswith(CODE_PATH)
    page = client.get(CODE_PATH).text
    assert "Set up two-step sign-in" in page
    secret = re.search(r'<p class="secret">([A-Z2-7]+)</p>', page).group(1)
    assert f"otpauth://totp/coach:ada%40example.org?secret={secret}" in page
    assert secret in client.get(CODE_PATH).text, "the same secret until it is confirmed"
    assert code(client, code_at(secret, clock())).status_code == 303
    assert accounts.get("ada@example.org").totp_secret == secret
    assert signed_in_as(client) == "ada@example.org"
    assert [a for a, _, _ in accounts.actions()] == ["account.two-step-on", "login"]


def test_an_account_can_turn_on_a_second_factor_itself(client, accounts, clock):
    accounts.add("ada@example.org", "operator")
    login(client, "ada@example.org")
    page = client.get("/admin/two-step").text
    secret = re.search(r'<p class="secret">([A-Z2-7]+)</p>', page).group(1)
    wrong = post(client, "/admin/two-step", {"code": "12345x"})
    assert wrong.status_code == 400 and accounts.get("ada@example.org").totp_secret is None
    done = post(client, "/admin/two-step", {"code": code_at(secret, clock())})
    assert "Two-step sign-in is on" in done.text
    assert accounts.get("ada@example.org").totp_secret == secret
    client.cookies.delete(COOKIE, path="/admin")
    assert login(client, "ada@example.org").headers["location"].startswith(CODE_PATH)


def test_an_admin_resets_a_lost_second_factor_and_a_new_one_is_set_up(make_client, client,
                                                                      accounts, clock):
    """A colleague lost their phone: their sessions end, their old codes open nothing, and
    with a second factor required of everyone they set up a new one after their password."""
    from coach.admin.switches import set_require_totp as require

    admin = accounts.add("boss@example.org", "admin")
    lost = accounts.add("ann@example.org", "operator", totp=True)
    old_secret = lost.totp_secret
    theirs = make_client()
    login(theirs, "ann@example.org")
    code(theirs, code_at(old_secret, clock()))
    assert signed_in_as(theirs) == "ann@example.org"
    login(client, "boss@example.org")
    page = client.get("/admin/accounts").text
    assert "Reset the second factor of ann@example.org" in page
    assert "Reset the second factor of boss@example.org" not in page, "no self-reset button"
    done = post(client, f"/admin/accounts/{lost.id}/totp-reset", form_page="/admin/accounts")
    assert "second factor is reset" in done.text
    assert signed_in_as(theirs) is None and accounts.get("ann@example.org").totp_secret is None
    assert ("account.totp-reset", admin.id) in [(a, i) for a, i, _ in accounts.actions()]
    again = post(client, f"/admin/accounts/{lost.id}/totp-reset", form_page="/admin/accounts")
    assert again.status_code == 400 and "no second factor to reset" in alert(again.text)
    self_reset = post(client, f"/admin/accounts/{admin.id}/totp-reset",
                      form_page="/admin/accounts")
    assert self_reset.status_code == 400 and "ask another admin" in alert(self_reset.text)

    with accounts.factory.begin() as session:
        require(session, True, clock())
    fresh = make_client()
    assert login(fresh, "ann@example.org").headers["location"].startswith(CODE_PATH)
    assert "Set up two-step sign-in" in fresh.get(CODE_PATH).text
