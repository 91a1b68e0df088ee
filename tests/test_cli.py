"""The command line: the happy path a person follows, and every error saying what to do."""

import json
import shutil

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from coach.cli.main import app
from coach.programmes.models import ProgrammeVersion
from coach.subscribers.models import Subscriber
from tests.conftest import PROGRAMMES

runner = CliRunner()


def coach(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count(model.id)))


def test_a_person_through_the_cli(settings, factory, published):
    coach("subscribe", "--email", "sam@example.org", "--name", "Sam", "--focus", "honesty",
          "--tz", "America/New_York", "--at", "08:15", "--now", "2026-03-02T09:00:00Z")
    assert "\"sent\": 1" in coach("tick", "--now", "2026-03-02T13:15:00Z")
    coach("reply", "--from", "SAM@example.org", "PAUSE 3", "--now", "2026-03-02T13:30:00Z")
    story = json.loads(coach("status", "sam@example.org", "--json"))
    assert set(story) == {"subscriber", "enrolments", "timeline"}
    [enrolment] = story["enrolments"]
    assert (enrolment["state"], enrolment["pace"]) == ("paused", 1.0)
    assert enrolment["next_due_at"] == "2026-03-06T13:15:00Z"
    kinds = [entry["kind"] for entry in story["timeline"]]
    assert kinds.count("sent") == 2 and "reply" in kinds and "decision" in kinds
    assert all({"at", "kind", "channel", "text", "reason"} <= set(e) for e in story["timeline"])
    assert [e["at"] for e in story["timeline"]] == sorted(e["at"] for e in story["timeline"])
    pause = next(e for e in story["timeline"] if e["kind"] == "decision" and e["text"] == "pause")
    assert "paused for 3 days" in pause["reason"]
    assert "paused for 3 days" in coach("status", "sam@example.org")


@pytest.mark.parametrize("args, message", [
    (["--email", "not-an-address"], "is not a valid email address"),
    (["--phone", "12345"], "international format"),
    (["--email", "a@example.org", "--tz", "Mars/Olympus"], "unknown time zone"),
    (["--email", "a@example.org", "--focus", "patience"], "choose one of"),
    (["--email", "a@example.org", "--at", "7pm"], "24-hour HH:MM"),
    ([], "give an email address or a phone number"),
])
def test_subscribe_errors_say_what_to_do_and_change_nothing(
    settings, factory, published, args, message
):
    defaults = {"--focus": "honesty", "--tz": "Europe/London"}
    for flag in args[::2]:
        defaults.pop(flag, None)
    flags = [item for pair in defaults.items() for item in pair]
    output = coach("subscribe", *flags, *args, code=2)
    assert message in " ".join(output.split())
    assert _count(factory, Subscriber) == 0


def test_one_quality_at_a_time(settings, factory, published):
    coach("subscribe", "--email", "a@example.org", "--focus", "honesty", "--tz", "UTC")
    output = coach("subscribe", "--email", "a@example.org", "--focus", "trust-and-care",
                   "--tz", "UTC", code=2)
    assert "one quality at a time" in output


def test_subscribe_before_anything_is_published_says_how(settings, factory):
    output = coach("subscribe", "--email", "a@example.org", "--focus", "honesty", "--tz", "UTC",
                   code=2)
    assert "coach programmes publish" in output
    assert _count(factory, Subscriber) == 0


def test_reply_and_status_for_an_unknown_address(settings, factory, published):
    assert "subscribe first" in coach("reply", "--from", "x@example.org", "hi", code=2)
    assert "no subscriber has the address" in coach("status", "x@example.org", code=2)
    assert "international format" in coach("status", "not a number", code=2)


def test_a_bad_now_is_refused(settings, factory, published):
    assert "not an ISO-8601 time" in coach("tick", "--now", "yesterday", code=2)


def test_a_full_disk_is_said_plainly_without_a_traceback(settings, factory, published,
                                                        monkeypatch):
    """The sweep's own refusal (tests/faults fills a real disk) reaches the operator as one
    sentence that says what to do, and a failing exit code."""
    from coach.cli import main
    from coach.scheduling.services import DatabaseFull

    def full(*_args, **_kwargs):
        raise DatabaseFull("the database is full (coach.db): free space on the disk that holds "
                           "it; the next sweep then plans what is still due")

    monkeypatch.setattr(main, "run_sweep", full)
    output = coach("tick", code=2)
    assert "free space on the disk" in output and "Traceback" not in output


def test_publish_is_immutable_and_idempotent(settings, factory, tmp_path):
    folder = tmp_path / "honesty"
    shutil.copytree(PROGRAMMES / "honesty", folder)
    assert "published version 1" in coach("programmes", "publish", str(folder))
    assert "unchanged, still version 1" in coach("programmes", "publish", str(folder))
    welcome = folder / "steps" / "welcome.j2"
    welcome.write_text(welcome.read_text().replace("{% endblock %}", " Welcome.{% endblock %}", 1))
    assert "published version 2" in coach("programmes", "publish", str(folder))
    assert _count(factory, ProgrammeVersion) == 2


def test_publish_refuses_a_broken_programme_and_stores_nothing(settings, factory, tmp_path):
    folder = tmp_path / "honesty"
    shutil.copytree(PROGRAMMES / "honesty", folder)
    (folder / "steps" / "w1-practice.j2").write_text("{% block sms %}{{ nickname }}{% endblock %}")
    output = coach("programmes", "publish", str(folder), code=2)
    assert "w1-practice.j2:1" in output and "nothing was published" in output
    assert _count(factory, ProgrammeVersion) == 0
    assert "w1-practice.j2:1" in coach("programmes", "validate", str(folder), code=1)
    assert "no programme at 'nope'" in coach("programmes", "validate", "nope", code=2)


def test_validate_and_list_the_built_ins(settings, factory, published):
    assert coach("programmes", "validate").count(": ok (") == 4
    assert "trust-and-care" in coach("programmes", "list")


def test_simulate_prints_timelines(settings):
    output = coach("simulate", "--days", "12")
    assert "Sam" in output and "Alex" in output and "Kim" in output
    assert "remind" in output and "slower" in output


def test_an_enrolment_stays_on_the_version_it_started_with(settings, factory, tmp_path):
    folder = tmp_path / "honesty"
    shutil.copytree(PROGRAMMES / "honesty", folder)
    coach("programmes", "publish", str(folder))
    coach("subscribe", "--email", "a@example.org", "--focus", "honesty", "--tz", "UTC",
          "--now", "2026-03-02T09:00:00Z")
    welcome = folder / "steps" / "welcome.j2"
    welcome.write_text(welcome.read_text().replace("{% block subject %}",
                                                   "{% block subject %}NEW ", 1))
    assert "published version 2" in coach("programmes", "publish", str(folder))
    coach("tick", "--now", "2026-03-02T18:00:00Z")
    story = json.loads(coach("status", "a@example.org", "--json"))
    assert story["enrolments"][0]["version"] == 1
    sent = [e for e in story["timeline"] if e["kind"] == "sent"]
    assert sent and not sent[0]["subject"].startswith("NEW")
