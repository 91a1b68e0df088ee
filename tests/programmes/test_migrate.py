"""Moving people from one version to another: a dry run first, then batches; nobody gets a
step twice, nobody moves faster than the authored schedule, a second run changes nothing."""

from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from coach.cli.main import app
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.programmes.drafts import create_from_folder, get_draft, save
from coach.programmes.edits import add_step, edit_step
from coach.programmes.releases import find_version, publish_draft
from coach.scheduling.migrate_people import MigrationError, migrate, plan_migration
from coach.scheduling.models import Enrolment
from coach.scheduling.pacing import effective_gap_days
from coach.subscribers.models import Subscriber
from tests.conftest import PROGRAMMES, START
from tests.helpers import enrol, tick

STEP_KINDS = ("nudge", "checkin", "closing")


def _two_versions(factory) -> None:
    _first_version(factory)
    _second_version(factory)


def _first_version(factory) -> None:
    with factory.begin() as session:
        create_from_folder(session, PROGRAMMES / "honesty", "ana")
        publish_draft(session, "honesty", by="ana", note="one", expected_revision=1)


def _second_version(factory) -> None:
    """Version 2 adds a step in week 1 and renames one in week 2."""
    with factory.begin() as session:
        draft = get_draft(session, "honesty")
        files = add_step(draft.files, "w1-extra", after="w1-reflect")
        files = edit_step(files, "w1-extra", {"sms": "Hi {{ name }}. One more thought.",
                                              "subject": "A thought", "email": "Hi."})
        files = edit_step(files, "w2-practice", {"key": "w2-try"})
        save(session, "honesty", files, 1, "ana")
        publish_draft(session, "honesty", by="ana", note="two", expected_revision=2)


def _run(settings, start, days: int, step=timedelta(hours=3)):
    now = start
    while now < start + timedelta(days=days):
        tick(settings, now)
        now += step
    return now


@pytest.fixture
def people(settings, factory):
    _first_version(factory)
    for day, email in enumerate(("a@example.org", "b@example.org", "c@example.org")):
        enrol(factory, START + timedelta(days=4 * day), email=email, focus="honesty")
    now = _run(settings, START, 11)
    _second_version(factory)
    return now


def _sent_steps(factory) -> dict[int, list[tuple[str, object]]]:
    with factory() as session:
        rows = session.execute(select(Delivery.enrolment_id, Delivery.step_key,
                                      Delivery.created_at)
                               .where(Delivery.kind.in_(STEP_KINDS)).order_by(Delivery.id))
        found: dict[int, list] = {}
        for enrolment_id, key, at in rows:
            found.setdefault(enrolment_id, []).append((key, at))
        return found


def test_dry_run_then_batches_then_nothing(settings, factory, people) -> None:
    now = people
    overrides = {"w2-practice": "w2-try"}
    with factory() as session:
        plan = plan_migration(session, "honesty", 1, 2, overrides, now)
        assert plan.mapping["w2-practice"] == "w2-try" and plan.mapping["welcome"] == "welcome"
        assert plan.summary()["people"] == 3
        versions = {e.version_id for e in session.scalars(select(Enrolment))}
        v1, v2 = find_version(session, "honesty", 1), find_version(session, "honesty", 2)
        assert versions == {v1.id}
    before = _sent_steps(factory)
    moves = migrate(factory, "honesty", 1, 2, overrides, now, by="ana", batch_size=2)
    assert sorted(m.enrolment_id for m in moves) == sorted(m.enrolment_id for m in plan.moves)
    assert [(m.position, m.next_step) for m in moves] == [
        (m.position, m.next_step) for m in plan.moves]
    with factory() as session:
        assert {e.version_id for e in session.scalars(select(Enrolment))} == {v2.id}
        events = session.scalars(select(Event).where(Event.action == "migrate")).all()
        assert len(events) == 3 and all("moved from version 1 to 2" in e.reason for e in events)
    assert migrate(factory, "honesty", 1, 2, overrides, now) == []
    # On to the end: every step at most once, and never sooner than its gap.
    _run(settings, now, 60, step=timedelta(hours=6))
    after = _sent_steps(factory)
    with factory() as session:
        gaps = {s["key"]: s["gap_days"] for s in v2.definition["steps"]}
        gaps |= {s["key"]: s["gap_days"] for s in v1.definition["steps"] if s["key"] not in gaps}
        clock = session.scalars(select(Subscriber)).first().clock()
    for enrolment_id, sent in after.items():
        keys = [key if key != "w2-practice" else "w2-try" for key, _ in sent]
        assert Counter(keys).most_common(1)[0][1] == 1, keys
        assert sent[:len(before.get(enrolment_id, []))] == before.get(enrolment_id, [])
        for (_, earlier), (key, later) in pairwise(sent):
            days = (clock.local(later).date() - clock.local(earlier).date()).days
            assert days >= effective_gap_days(gaps[key], 1.0), (key, sent)


def test_bad_mappings_say_why(settings, factory) -> None:
    _two_versions(factory)
    with factory() as session:
        with pytest.raises(MigrationError, match="no step 'nope'"):
            plan_migration(session, "honesty", 1, 2, {"nope": "welcome"})
        with pytest.raises(MigrationError, match="new version has no step"):
            plan_migration(session, "honesty", 1, 2, {"welcome": "nope"})
        with pytest.raises(MigrationError, match="no version 7"):
            plan_migration(session, "honesty", 1, 7)


def test_the_cli_exports_imports_walks_and_migrates(settings, factory, tmp_path) -> None:
    runner = CliRunner()

    def coach(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    _two_versions(factory)
    coach("programmes", "export", "honesty", str(tmp_path / "v1"), "--version", "1")
    for path in (PROGRAMMES / "honesty").rglob("*"):
        if path.is_file():
            relative = path.relative_to(PROGRAMMES / "honesty")
            assert (tmp_path / "v1" / relative).read_bytes() == path.read_bytes()
    with factory.begin() as session:  # an author's work, not yet published
        draft = get_draft(session, "honesty")
        save(session, "honesty", edit_step(draft.files, "welcome", {"subject": "Hi"}),
             draft.revision, "bo")
    assert "--force" in coach("programmes", "import", str(tmp_path / "v1"), "--slug",
                              "honesty", code=2)
    assert "updated" in coach("programmes", "import", str(tmp_path / "v1"), "--slug",
                              "honesty", "--force")
    with factory() as session:
        assert get_draft(session, "honesty").revision == 4
    assert "not a folder" in coach("programmes", "import", str(tmp_path / "nowhere"), code=2)
    table = coach("programmes", "walk", "honesty", "--tz", "Europe/London", "--start",
                  "2026-03-02T09:00:00Z", "--persona", "answers 2")
    assert "answers 2" in table and "answers 4" not in table and "w1-extra" in table
    assert "0 people would move" in coach("programmes", "migrate", "honesty", "--from", "1",
                                          "--to", "2", "--dry-run", "--map", "w2-practice=w2-try")
    assert "old=new" in coach("programmes", "migrate", "honesty", "--from", "1", "--to", "2",
                              "--map", "nonsense", code=2)
    assert "no version 9" in coach("programmes", "export", "honesty", str(tmp_path / "x"),
                                   "--version", "9", code=2)
