"""Authoring in the browser's pages (over HTTP): the list, starting a draft, settings, steps,
one step's editor with its preview, problems at their field, and conflicts between authors."""

import re

import pytest
from sqlalchemy import select

from coach.programmes.models import ProgrammeDraft
from tests.admin.support import alert, login, token_of

DRAFT = "/admin/programmes/honesty/draft"


@pytest.fixture
def author(make_client, accounts, published):
    accounts.add("ada@example.org", "author")
    client = make_client()
    assert login(client, "ada@example.org").status_code == 303
    return client


def revision(client, path=DRAFT) -> str:
    found = re.search(r'name="revision" value="(\d+)"', client.get(path).text)
    assert found, "the page offers no form with a revision"
    return found.group(1)


def post(client, path, form_page=DRAFT, **data):
    return client.post(path, data={"csrf_token": token_of(client, form_page), **data})


def start(client):
    answer = post(client, f"{DRAFT}/start", form_page="/admin/programmes")
    assert answer.status_code == 303 and answer.headers["location"] == f"{DRAFT}?done=created"


def draft_files(factory) -> dict[str, str]:
    with factory() as session:
        return dict(session.scalars(select(ProgrammeDraft.files)).one())


def test_the_list_shows_every_programme_with_versions_and_drafts(author):
    page = author.get("/admin/programmes").text
    for slug in ("honesty", "trust-and-care", "knowing-yourself", "clear-communication"):
        assert f"<code>{slug}</code>" in page
    assert "v1 (0)" in page and "Start a draft" in page
    start(author)
    assert "revision 1, as published, by ada@example.org" in author.get("/admin/programmes").text


def test_starting_a_draft_is_audited_and_shows_it_validates(author, accounts):
    start(author)
    page = author.get(DRAFT).text
    assert "The draft validates" in page and "welcome" in page
    assert ("draft.create", accounts.get("ada@example.org").id, "from version 1") in \
        accounts.actions()


def test_editing_a_step_with_an_error_shows_it_at_the_field_and_keeps_what_was_typed(
    author, factory
):
    start(author)
    step = f"{DRAFT}/steps/welcome"
    before = draft_files(factory)
    bad = post(author, step, form_page=step, revision=revision(author, step), key="welcome",
               kind="reflection", week="1", gap_days="0", sms="Hi {{ name }", subject="Hello",
               email="Welcome.")
    assert bad.status_code == 303, "a draft may hold a mistake: it is saved, and shown"
    page = author.get(step).text
    at_sms = re.search(r'<p class="error" id="problem-sms-1">(.*?)</p>', page)
    assert at_sms and "steps/welcome.j2:1: template syntax" in at_sms.group(1)
    assert 'id="sms" name="sms" aria-invalid="true"' in page
    good = post(author, step, form_page=step, revision=revision(author, step), key="welcome",
                kind="reflection", week="1", gap_days="0",
                sms="Hi {{ name }}, welcome. No hurry: one small step a week.",
                subject="Welcome", email="Hi {{ name }},\n\nWelcome.")
    assert good.status_code == 303
    shown = author.get(f"{step}?name=Robin").text
    assert "Hi Robin, welcome. No hurry: one small step a week." in shown
    assert "GSM-7, 1 segment" in shown
    assert draft_files(factory) != before


def test_a_stale_revision_is_a_conflict_not_an_overwrite(author, make_client, accounts,
                                                          factory):
    start(author)
    step = f"{DRAFT}/steps/welcome"
    seen = revision(author, step)
    accounts.add("bo@example.org", "author")
    other = make_client()
    login(other, "bo@example.org")
    post(other, f"{DRAFT}/settings", revision=revision(other), title="Honesty, gently",
         quality="honesty", summary="", pacing="")
    saved_by_other = draft_files(factory)
    late = post(author, step, form_page=step, revision=seen, key="welcome", kind="reflection",
                week="1", gap_days="0", sms="Mine", subject="Mine", email="Mine")
    assert late.status_code == 409
    assert "bo@example.org" in (alert(late.text) or "")
    assert 'value="Mine"' in late.text or ">Mine<" in late.text, "what they typed is kept"
    assert draft_files(factory) == saved_by_other


def test_steps_are_added_moved_duplicated_and_removed(author, factory):
    start(author)
    post(author, f"{DRAFT}/steps/add", revision=revision(author), key="w1-extra",
         kind="reflection", after="welcome")
    assert "steps/w1-extra.j2" in draft_files(factory)
    post(author, f"{DRAFT}/steps/move", revision=revision(author), key="w1-extra",
         direction="up")
    post(author, f"{DRAFT}/steps/duplicate", revision=revision(author), key="w1-extra",
         new_key="w1-extra-2")
    post(author, f"{DRAFT}/steps/remove", revision=revision(author), key="w1-extra")
    files = draft_files(factory)
    assert "steps/w1-extra.j2" not in files and "steps/w1-extra-2.j2" in files
    order = re.findall(r"- key: (\S+)", files["programme.yaml"])
    assert order[:2] == ["w1-extra-2", "welcome"]


@pytest.mark.parametrize(("data", "says"), [
    ({"key": "bad key!", "kind": "reflection", "after": "welcome"}, "key"),
    ({"key": "welcome", "kind": "reflection", "after": "welcome"}, "welcome"),
])
def test_a_bad_step_edit_is_explained_and_changes_nothing(author, factory, data, says):
    start(author)
    before = draft_files(factory)
    answer = post(author, f"{DRAFT}/steps/add", revision=revision(author), **data)
    assert answer.status_code == 400 and says in (alert(answer.text) or "")
    assert draft_files(factory) == before


def test_settings_with_a_bad_pacing_line_change_nothing(author, factory):
    start(author)
    before = draft_files(factory)
    answer = post(author, f"{DRAFT}/settings", revision=revision(author), title="Honesty",
                  quality="honesty", summary="", pacing="slower_factor 2")
    assert answer.status_code == 400 and "Pacing line 1" in (alert(answer.text) or "")
    assert draft_files(factory) == before


def test_a_form_without_its_revision_is_refused(author, factory):
    start(author)
    before = draft_files(factory)
    answer = post(author, f"{DRAFT}/settings", title="X", quality="honesty", pacing="")
    assert answer.status_code == 400 and "revision" in (alert(answer.text) or "")
    assert draft_files(factory) == before


def test_a_template_cannot_reach_the_environment_through_the_preview(author):
    start(author)
    step = f"{DRAFT}/steps/welcome"
    post(author, step, form_page=step, revision=revision(author, step), key="welcome",
         kind="reflection", week="1", gap_days="0",
         sms="{{ self.__init__.__globals__ }}", subject="x", email="x")
    page = author.get(step).text
    assert 'id="sms-step"' not in page, "nothing rendered from the template"
    assert "__builtins__" not in page and "steps/welcome.j2" in page


def test_unknown_programmes_and_steps_are_not_found(author):
    assert author.get("/admin/programmes/nope/draft").status_code == 404
    start(author)
    assert author.get(f"{DRAFT}/steps/nope").status_code == 404


def test_a_test_send_goes_to_the_authors_own_address_marked_and_uncounted(author, factory,
                                                                          accounts):
    from coach.delivery.channels import MemoryChannel
    from tests.web.support import row_counts

    start(author)
    step = f"{DRAFT}/steps/welcome"
    before = row_counts(factory)["deliveries"]
    one = post(author, f"{step}/test-send", form_page=step, what="step")
    assert one.status_code == 303 and one.headers["location"].endswith("?done=test-sent-1")
    [message] = MemoryChannel.sent
    assert message.to == "ada@example.org" and message.subject.startswith("[Test: welcome]")
    assert message.kind == "test" and message.subscriber_id is None
    whole = post(author, f"{step}/test-send", form_page=step, what="programme")
    count = int(whole.headers["location"].rsplit("-", 1)[1])
    assert count > 5 and len(MemoryChannel.sent) == 1 + count
    assert all(m.to == "ada@example.org" for m in MemoryChannel.sent)
    assert row_counts(factory)["deliveries"] == before, "never an outbox row, never a figure"
    assert [a for a, _, _ in accounts.actions()].count("draft.test-send") == 2


def test_an_author_without_the_permission_cannot_test_send(make_client, accounts, published):
    accounts.add("ops@example.org", "operator")
    client = make_client()
    login(client, "ops@example.org")
    answer = client.post(f"{DRAFT}/steps/welcome/test-send",
                         data={"csrf_token": token_of(client, "/admin"), "what": "step"})
    assert answer.status_code == 403


def test_the_live_preview_shows_what_is_typed_without_saving_it(author, factory):
    start(author)
    step = f"{DRAFT}/steps/welcome"
    before = draft_files(factory)
    shown = post(author, f"{step}/preview?name=Robin", form_page=step, key="welcome",
                 kind="reflection", week="1", gap_days="0", sms="Hello {{ name }}, unsaved.",
                 subject="S", email="E")
    assert shown.status_code == 200 and "Hello Robin, unsaved." in shown.text
    assert "<html" not in shown.text, "a fragment of the page, not a page"
    assert draft_files(factory) == before
    broken = post(author, f"{step}/preview", form_page=step, key="welcome", kind="reflection",
                  week="1", gap_days="0", sms="{% for %}", subject="S", email="E")
    assert "steps/welcome.j2" in broken.text and draft_files(factory) == before


def test_autosave_answers_the_new_revision_or_the_conflict(author, factory):
    start(author)
    step = f"{DRAFT}/steps/welcome"
    seen = revision(author, step)
    fields = {"key": "welcome", "kind": "reflection", "week": "1", "gap_days": "0",
              "sms": "Autosaved {{ name }}.", "subject": "S", "email": "E"}
    saved = author.post(step, headers={"X-Coach-Autosave": "1"}, data={
        "csrf_token": token_of(author, step), "revision": seen, **fields})
    assert saved.status_code == 200 and saved.json() == {"revision": int(seen) + 1,
                                                         "key": "welcome"}
    assert "Autosaved {{ name }}." in draft_files(factory)["steps/welcome.j2"]
    stale = author.post(step, headers={"X-Coach-Autosave": "1"}, data={
        "csrf_token": token_of(author, step), "revision": seen, **fields, "sms": "Lost?"})
    assert stale.status_code == 409 and "ada@example.org saved this draft" in stale.json()[
        "error"]
    assert "Lost?" not in draft_files(factory)["steps/welcome.j2"]


def test_a_test_send_the_channel_refuses_says_so_and_sends_nothing_more(author, monkeypatch,
                                                                         accounts):
    from coach.delivery.channels import MemoryChannel, PermanentFailure

    def refuse(self, message):
        raise PermanentFailure("mailbox unavailable")

    start(author)
    step = f"{DRAFT}/steps/welcome"
    monkeypatch.setattr(MemoryChannel, "send", refuse)
    answer = post(author, f"{step}/test-send", form_page=step, what="programme")
    assert answer.status_code == 502
    assert "refused the test after 0 sent: mailbox unavailable" in (alert(answer.text) or "")
    assert ("draft.test-send", accounts.get("ada@example.org").id,
            "0 of 20 step(s) from welcome to their own address") in accounts.actions()


def test_a_step_that_cannot_render_is_not_test_sent(author):
    from coach.delivery.channels import MemoryChannel

    start(author)
    step = f"{DRAFT}/steps/welcome"
    post(author, step, form_page=step, revision=revision(author, step), key="welcome",
         kind="reflection", week="1", gap_days="0", sms="Hi {{ name }", subject="S", email="E")
    answer = post(author, f"{step}/test-send", form_page=step, what="step")
    assert answer.status_code == 502 and "Step welcome cannot be rendered yet" in (
        alert(answer.text) or "")
    assert MemoryChannel.sent == []
