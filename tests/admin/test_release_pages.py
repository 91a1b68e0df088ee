"""The release pages of a programme: walk, publish (and two-person approval), diff, versions,
import and migrate, each with the role it needs, every refusal changing nothing."""

import html
import io
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from coach.programmes.drafts import create_from_version, get_draft, save
from coach.programmes.edits import edit_step
from coach.programmes.folders import export_zip, files_from_zip, version_files
from coach.programmes.models import ProgrammeVersion
from coach.programmes.releases import find_version
from coach.scheduling.models import Enrolment
from coach.web.admin import releases
from coach.web.admin.releases import parse_mapping
from tests.admin.support import alert, login, token_of
from tests.conftest import START
from tests.helpers import enrol, tick
from tests.web.support import row_counts

BASE = "/admin/programmes/honesty"
ZONES_OK = "Europe/London"


@pytest.fixture
def honesty(published, factory, clock):
    """Version 1 of honesty (the built-in) and a draft made from it."""
    with factory.begin() as session:
        create_from_version(session, find_version(session, "honesty", 1), "ana", clock())


def _as(client: TestClient, accounts, role: str, email: str | None = None) -> TestClient:
    email = email or f"{role}@example.org"
    accounts.add(email, role)
    assert login(client, email).status_code == 303
    return client


def _post(client: TestClient, path: str, data: dict[str, str] | None = None, **kw):
    return client.post(path, data={"csrf_token": token_of(client, "/admin"), **(data or {})},
                       **kw)


def _edit_draft(factory, clock, changes: dict[str, str], key: str = "w1-reflect") -> int:
    with factory.begin() as session:
        draft = get_draft(session, "honesty")
        save(session, "honesty", edit_step(draft.files, key, changes), draft.revision, "ana",
             clock())
        return draft.revision


def _honesty_versions(factory) -> list[ProgrammeVersion]:
    with factory() as session:
        v1 = find_version(session, "honesty", 1)
        return list(session.scalars(select(ProgrammeVersion)
                                    .where(ProgrammeVersion.programme_id == v1.programme_id)
                                    .order_by(ProgrammeVersion.number)))


def _text(page: str) -> str:
    """The page's words, tags as spaces, runs of space as one."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


# Roles and CSRF --------------------------------------------------------------------------------

ROUTES = [  # method, path, a role that may, a role that may not
    ("GET", f"{BASE}/walk", "author", "operator"),
    ("GET", f"{BASE}/publish", "publisher", "author"),
    ("POST", f"{BASE}/publish", "publisher", "author"),
    ("POST", f"{BASE}/publish/approve", "publisher", "author"),
    ("GET", f"{BASE}/diff?from=1&to=draft", "operator", "safety"),
    ("GET", f"{BASE}/versions", "operator", "admin"),
    ("GET", f"{BASE}/versions/1.zip", "operator", "safety"),
    ("POST", f"{BASE}/versions/1/rollback", "publisher", "author"),
    ("POST", f"{BASE}/versions/1/approve", "publisher", "operator"),
    ("GET", f"{BASE}/import", "author", "operator"),
    ("POST", f"{BASE}/import", "author", "safety"),
    ("GET", f"{BASE}/migrate", "publisher", "author"),
    ("POST", f"{BASE}/migrate", "publisher", "author"),
    ("POST", f"{BASE}/migrate/run", "publisher", "operator"),
]


@pytest.mark.parametrize(("method", "path", "allowed", "refused"), ROUTES)
def test_each_route_serves_its_role_and_refuses_another(make_client, accounts, honesty,
                                                        factory, method, path, allowed,
                                                        refused):
    before = row_counts(factory)
    wrong = _as(make_client(), accounts, refused)
    response = wrong.get(path) if method == "GET" else _post(wrong, path)
    assert response.status_code == 403
    counts = row_counts(factory)
    assert {k: v for k, v in counts.items() if k not in ("audit_entries", "admin_sessions",
                                                         "admin_accounts")} == {
        k: v for k, v in before.items() if k not in ("audit_entries", "admin_sessions",
                                                     "admin_accounts")}
    if method == "GET":
        right = _as(make_client(), accounts, allowed)
        assert right.get(path).status_code == 200
    stranger = make_client()
    assert stranger.get(path).status_code == 303 if method == "GET" else True


def test_a_post_without_the_form_token_is_refused_and_publishes_nothing(
        client, accounts, honesty, factory, clock):
    _as(client, accounts, "publisher")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Something new."})
    response = client.post(f"{BASE}/publish", data={"note": "new", "revision": str(revision)})
    assert response.status_code == 403 and "This form has expired" in response.text
    assert [v.number for v in _honesty_versions(factory)] == [1]


# Walk ----------------------------------------------------------------------------------------

def test_walk_shows_three_people_in_the_chosen_zone(client, accounts, honesty):
    _as(client, accounts, "author")
    response = client.get(f"{BASE}/walk?tz=America/New_York&start=2026-03-02&at=18:00")
    assert response.status_code == 200, alert(response.text)
    text = _text(response.text)
    for who in ("answers 4 every week", "answers 2 every week", "never answers"):
        assert f"Someone who {who}" in text
    assert "Walking the draft (revision 1), times in America/New_York" in text
    assert "Mon 02 Mar 2026" in text and "18:00" in text and "welcome" in text


def test_walk_of_a_version_and_the_default_form(client, accounts, honesty):
    _as(client, accounts, "author")
    assert "Walking version 1" in _text(client.get(f"{BASE}/walk?version=1").text)
    page = client.get(f"{BASE}/walk").text
    assert '<option value="Europe/London" selected>' in page


@pytest.mark.parametrize(("query", "status", "words"), [
    ("tz=Mars/Olympus", 400, "is not a time zone; choose one from the list"),
    ("tz=Europe/London&version=9", 404, "honesty has no version 9"),
    ("version=x", 400, "is not a version"),
    ("start=02/03/2026", 400, "write it as YYYY-MM-DD"),
    ("at=25:00", 400, "write it as HH:MM"),
])
def test_walk_refuses_bad_input_saying_what_to_do(client, accounts, honesty, query, status,
                                                  words):
    _as(client, accounts, "author")
    response = client.get(f"{BASE}/walk?{query}")
    assert response.status_code == status and words in alert(response.text)


def test_walk_of_an_unknown_programme_is_not_found(client, accounts, published):
    _as(client, accounts, "author")
    response = client.get("/admin/programmes/nothing-here/walk")
    assert response.status_code == 404 and "no programme or draft" in alert(response.text)


def test_walk_of_a_draft_with_problems_lists_them(client, accounts, honesty, factory, clock):
    _as(client, accounts, "author")
    _edit_draft(factory, clock, {"sms": "Hi {{ name "})
    response = client.get(f"{BASE}/walk")
    assert response.status_code == 400 and "fix them in the editor" in alert(response.text)
    assert "steps/w1-reflect.j2" in response.text


# Publish -------------------------------------------------------------------------------------

def test_publish_shows_the_diff_then_publishes_with_a_note(client, accounts, honesty, factory,
                                                           clock):
    _as(client, accounts, "publisher")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Something new."})
    page = client.get(f"{BASE}/publish")
    assert page.status_code == 200 and "Something new." in page.text
    assert "w1-reflect" in page.text and f'name="revision" value="{revision}"' in page.text
    response = _post(client, f"{BASE}/publish", {"note": "A warmer reflection",
                                                  "revision": str(revision)})
    assert response.status_code == 200, alert(response.text)
    assert "Published as version 2" in response.text
    v2 = _honesty_versions(factory)[-1]
    assert (v2.number, v2.published_by, v2.note) == (2, "publisher@example.org",
                                                     "A warmer reflection")
    entry = accounts.audit()[-1]
    assert (entry.action, entry.object_id) == ("version.published", "honesty")
    assert entry.detail == f"version 2 from draft revision {revision}"


def test_publish_needs_a_note(client, accounts, honesty, factory, clock):
    _as(client, accounts, "publisher")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. New."})
    response = _post(client, f"{BASE}/publish", {"note": " ", "revision": str(revision)})
    assert response.status_code == 400 and "Write a note" in alert(response.text)
    assert len(_honesty_versions(factory)) == 1


def test_an_invalid_draft_is_refused_with_its_problems(client, accounts, honesty, factory,
                                                       clock):
    _as(client, accounts, "publisher")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name "})
    page = client.get(f"{BASE}/publish").text
    assert "Publishing is refused until every problem is fixed" in page
    assert 'action="/admin/programmes/honesty/publish"' not in page
    response = _post(client, f"{BASE}/publish", {"note": "n", "revision": str(revision)})
    assert response.status_code == 400 and "problems are fixed" in alert(response.text)
    text = _text(response.text)
    assert "steps/w1-reflect.j2 , line" in text and "step w1-reflect" in text
    assert "field sms" in text
    assert len(_honesty_versions(factory)) == 1


def test_a_stale_revision_is_a_conflict_that_publishes_nothing(client, accounts, honesty,
                                                               factory, clock):
    _as(client, accounts, "publisher")
    seen = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. One."})
    _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Two."})
    response = _post(client, f"{BASE}/publish", {"note": "n", "revision": str(seen)})
    assert response.status_code == 409
    assert "after you opened it; reload it" in alert(response.text)
    assert len(_honesty_versions(factory)) == 1


def test_an_unchanged_draft_publishes_nothing(client, accounts, honesty, factory):
    _as(client, accounts, "publisher")
    response = _post(client, f"{BASE}/publish", {"note": "n", "revision": "1"})
    assert response.status_code == 400 and "same as version 1" in alert(response.text)


def test_no_draft_to_publish_says_where_to_start_one(client, accounts, published):
    _as(client, accounts, "publisher")
    response = client.get(f"{BASE}/publish")
    assert response.status_code == 404 and "no draft of honesty" in alert(response.text)


def test_two_people_one_approves_the_other_publishes(make_client, settings, accounts, honesty,
                                                     factory, clock):
    two = settings.model_copy(update={"publish_two_person": True})
    ana = _as(make_client(two), accounts, "publisher", "ana@example.org")
    bo = _as(make_client(two), accounts, "publisher", "bo@example.org")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Agreed."})
    data = {"note": "agreed", "revision": str(revision)}
    refused = _post(ana, f"{BASE}/publish", data)
    assert refused.status_code == 403 and "ask another publisher" in alert(refused.text)
    approved = _post(bo, f"{BASE}/publish/approve", {"revision": str(revision)})
    assert approved.status_code == 200 and "You approved revision" in approved.text
    assert "approved by bo@example.org" in _text(ana.get(f"{BASE}/publish").text)
    own = _post(bo, f"{BASE}/publish", data)  # the approver cannot be the second person
    assert own.status_code == 403 and len(_honesty_versions(factory)) == 1
    done = _post(ana, f"{BASE}/publish", data)
    assert done.status_code == 200 and "Published as version 2" in done.text
    v2 = _honesty_versions(factory)[-1]
    assert (v2.published_by, v2.approved_by) == ("ana@example.org", "bo@example.org")
    assert ("draft.approved", accounts.get("bo@example.org").id) in [
        (a, who) for a, who, _ in accounts.actions()]


def test_a_save_after_an_approval_needs_a_new_one(make_client, settings, accounts, honesty,
                                                  factory, clock):
    two = settings.model_copy(update={"publish_two_person": True})
    ana = _as(make_client(two), accounts, "publisher", "ana@example.org")
    bo = _as(make_client(two), accounts, "publisher", "bo@example.org")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Seen."})
    _post(bo, f"{BASE}/publish/approve", {"revision": str(revision)})
    _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Not seen by bo."})
    response = _post(ana, f"{BASE}/publish", {"note": "n", "revision": str(revision + 1)})
    assert response.status_code == 403 and len(_honesty_versions(factory)) == 1
    stale = _post(bo, f"{BASE}/publish/approve", {"revision": str(revision)})
    assert stale.status_code == 409 and "changed since you opened it" in alert(stale.text)


def test_approval_is_refused_when_one_publisher_is_enough(client, accounts, honesty):
    _as(client, accounts, "publisher")
    response = _post(client, f"{BASE}/publish/approve", {"revision": "1"})
    assert response.status_code == 400 and "No approval is needed" in alert(response.text)
    assert "draft.approved" not in [a for a, _, _ in accounts.actions()]


# Diff ----------------------------------------------------------------------------------------

def test_diff_shows_each_changed_field_per_language(client, accounts, honesty, factory, clock):
    _as(client, accounts, "operator")
    _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Changed words."})
    response = client.get(f"{BASE}/diff?from=1&to=draft")
    assert response.status_code == 200
    text = _text(response.text)
    assert "Step w1-reflect : changed" in text and "Changed words." in text
    assert re.search(r"sms\s+en", text)
    assert "Unchanged steps: welcome" in text
    same = client.get(f"{BASE}/diff?from=1&to=1")
    assert "No differences" in same.text


@pytest.mark.parametrize(("query", "status", "words"), [
    ("from=1&to=7", 404, "honesty has no version 7"),
    ("from=abc&to=1", 400, "is not a version"),
])
def test_diff_refuses_unknown_versions(client, accounts, honesty, query, status, words):
    _as(client, accounts, "operator")
    response = client.get(f"{BASE}/diff?{query}")
    assert response.status_code == status and words in alert(response.text)


# Versions ------------------------------------------------------------------------------------

def test_versions_list_counts_people_and_downloads_a_zip(client, accounts, honesty, factory):
    enrol(factory, START, email="a@example.org", focus="honesty")
    _as(client, accounts, "operator")
    page = client.get(f"{BASE}/versions")
    assert page.status_code == 200
    row = re.search(r"<tr>\s*<th scope=\"row\" class=\"num\">1</th>(.*?)</tr>", page.text, re.S)
    assert row and re.findall(r'<td class="num">(\d+)</td>', row.group(1))[-1] == "1"
    assert "Roll back" not in page.text  # an operator may not publish
    download = client.get(f"{BASE}/versions/1.zip")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert 'filename="honesty-v1.zip"' in download.headers["content-disposition"]
    [v1] = _honesty_versions(factory)
    assert files_from_zip(download.content) == version_files(v1.definition)
    assert client.get(f"{BASE}/versions/5.zip").status_code == 404
    assert accounts.audit()[-1].action == "version.downloaded"


def test_roll_back_publishes_an_earlier_version_again(client, accounts, honesty, factory,
                                                      clock):
    _as(client, accounts, "publisher")
    revision = _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Later."})
    _post(client, f"{BASE}/publish", {"note": "later", "revision": str(revision)})
    response = _post(client, f"{BASE}/versions/1/rollback", {"note": "too soon"})
    assert response.status_code == 200 and "published again as version 3" in response.text
    v1, _, v3 = _honesty_versions(factory)
    assert v3.checksum == v1.checksum and v3.note == "too soon"
    assert accounts.audit()[-1].action == "version.rolled-back"
    again = _post(client, f"{BASE}/versions/1/rollback")
    assert again.status_code == 400 and "same as the newest" in alert(again.text)
    missing = _post(client, f"{BASE}/versions/8/rollback")
    assert missing.status_code == 404 and len(_honesty_versions(factory)) == 3


# Import --------------------------------------------------------------------------------------

def _zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def _upload(client: TestClient, data: bytes, force: bool = False):
    fields = {"csrf_token": token_of(client, "/admin")} | ({"force": "on"} if force else {})
    return client.post(f"{BASE}/import", data=fields,
                       files={"zip": ("honesty.zip", data, "application/zip")})


def test_import_a_zip_as_the_draft(client, accounts, honesty, factory, clock):
    _as(client, accounts, "author")
    [v1] = _honesty_versions(factory)
    files = version_files(v1.definition)
    files["steps/w1-reflect.j2"] = files["steps/w1-reflect.j2"].replace("{%", "{# x #}{%", 1)
    response = _upload(client, _zip(files))
    assert response.status_code == 200, alert(response.text)
    assert "The draft is updated (revision 2)" in response.text
    with factory() as session:
        assert get_draft(session, "honesty").files == files
    assert accounts.audit()[-1].action == "draft.imported"


@pytest.mark.parametrize(("data", "words"), [
    (b"this is not a zip", "not a zip file"),
    (_zip({"steps/a.j2": "x"}), "no programme.yaml"),
    (_zip({"../programme.yaml": "x"}), "is not a path inside the programme folder"),
    (_zip({"programme.yaml": "x", "steps/a.j2": b"\xff\xfe"}), "is not UTF-8 text"),
])
def test_a_bad_zip_is_refused_and_changes_nothing(client, accounts, honesty, factory, data,
                                                  words):
    _as(client, accounts, "author")
    before = row_counts(factory)
    response = _upload(client, data)
    assert response.status_code == 400 and alert(response.text).startswith("Nothing was imp")
    assert words in alert(response.text)
    assert {k: v for k, v in row_counts(factory).items() if k != "admin_sessions"} == {
        k: v for k, v in before.items() if k != "admin_sessions"}


def test_a_draft_with_unpublished_work_is_replaced_only_when_asked(client, accounts, honesty,
                                                                   factory, clock):
    _as(client, accounts, "author")
    _edit_draft(factory, clock, {"sms": "Hi {{ name }}. Unpublished."})
    [v1] = _honesty_versions(factory)
    refused = _upload(client, export_zip_of(factory, 1))
    assert refused.status_code == 400 and "not published" in alert(refused.text)
    done = _upload(client, export_zip_of(factory, 1), force=True)
    assert done.status_code == 200
    with factory() as session:
        assert get_draft(session, "honesty").files == version_files(v1.definition)


def export_zip_of(factory, number: int) -> bytes:
    with factory() as session:
        return export_zip(find_version(session, "honesty", number))


def test_no_file_chosen_says_what_to_do(client, accounts, honesty):
    _as(client, accounts, "author")
    response = client.post(f"{BASE}/import", data={"csrf_token": token_of(client, "/admin")},
                           files={"zip": ("", b"", "application/octet-stream")})
    assert response.status_code == 400 and "Choose a .zip file" in alert(response.text)


def test_a_zip_over_the_limit_is_refused_with_a_clear_message(client, accounts, honesty,
                                                               factory):
    _as(client, accounts, "author")
    response = _upload(client, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 400 and "The zip is over 1 MiB" in alert(response.text)
    with factory() as session:
        assert get_draft(session, "honesty").revision == 1


def test_a_very_large_upload_is_refused_before_it_is_read(client, accounts, honesty, factory):
    _as(client, accounts, "author")
    response = _upload(client, b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    with factory() as session:
        assert get_draft(session, "honesty").revision == 1


# Migrate -------------------------------------------------------------------------------------

@pytest.fixture
def two_versions(settings, factory, clock, honesty):
    """Three people on version 1 after eleven days; version 2 renames w2-practice."""
    for day, email in enumerate(("a@example.org", "b@example.org", "c@example.org")):
        enrol(factory, START + timedelta(days=4 * day), email=email, focus="honesty",
              name="Zebedee")
    now = START
    while now < START + timedelta(days=11):
        tick(settings, now)
        now += timedelta(hours=3)
    clock.now = now
    with factory.begin() as session:
        draft = get_draft(session, "honesty")
        save(session, "honesty", edit_step(draft.files, "w2-practice", {"key": "w2-try"}),
             draft.revision, "ana", now)
    from coach.programmes.releases import publish_draft
    with factory.begin() as session:
        publish_draft(session, "honesty", by="ana", note="two", expected_revision=2)


def _on_version(factory, number: int) -> int:
    with factory() as session:
        version = find_version(session, "honesty", number)
        return len(list(session.scalars(select(Enrolment)
                                        .where(Enrolment.version_id == version.id))))


def test_migrate_dry_run_then_run_then_a_second_run_changes_nothing(client, accounts,
                                                                    two_versions, factory):
    _as(client, accounts, "publisher")
    form = {"from": "1", "to": "2", "mapping": "w2-practice -> w2-try\n"}
    page = client.get(f"{BASE}/migrate")
    assert page.status_code == 200 and "version 1 (3 people)" in page.text
    dry = _post(client, f"{BASE}/migrate", form)
    assert dry.status_code == 200, alert(dry.text)
    text = _text(dry.text)
    assert "Dry run: 3 people would move from version 1 to 2" in text
    assert "Zebedee" not in dry.text and "@example.org" not in text.replace(
        "publisher@example.org", "")
    assert _on_version(factory, 1) == 3
    assert accounts.audit()[-1].detail == "3 people from version 1 to 2"
    run = _post(client, f"{BASE}/migrate/run", form)
    assert run.status_code == 200 and "3 people moved from version 1 to 2" in run.text
    assert (_on_version(factory, 1), _on_version(factory, 2)) == (0, 3)
    again = _post(client, f"{BASE}/migrate/run", form)
    assert "Nobody is on version 1 any more; nothing changed" in again.text
    actions = [(a, d) for a, _, d in accounts.actions() if a.startswith("people.")]
    assert actions == [("people.migration-planned", "3 people from version 1 to 2"),
                       ("people.migrated", "3 people from version 1 to 2"),
                       ("people.migrated", "0 people from version 1 to 2")]


@pytest.mark.parametrize(("form", "words"), [
    ({"from": "1", "to": "2", "mapping": "w2-practice w2-try"}, "Mapping line 1"),
    ({"from": "1", "to": "2", "mapping": "nope -> w2-try"}, "old version has no step 'nope'"),
    ({"from": "1", "to": "2", "mapping": "w2-practice -> nope"}, "new version has no step"),
    ({"from": "1", "to": "9"}, "honesty has no version 9"),
    ({"from": "1", "to": "1"}, "give two different versions"),
    ({"from": "", "to": "2"}, "Choose the version people are on"),
])
def test_migrate_refuses_bad_input_and_moves_nobody(client, accounts, two_versions, factory,
                                                    form, words):
    _as(client, accounts, "publisher")
    for path in (f"{BASE}/migrate", f"{BASE}/migrate/run"):
        response = _post(client, path, {"mapping": "", **form})
        assert response.status_code == 400, path
        assert words.lower() in alert(response.text).lower(), path
    assert _on_version(factory, 1) == 3


def test_mapping_lines():
    assert parse_mapping("a -> b\n\n# note\nc=\nd → e\n") == {"a": "b", "c": None, "d": "e"}
    with pytest.raises(releases.Refused, match="Mapping line 2"):
        parse_mapping("a -> b\n-> c")
