"""Drafts in the database: create, save with conflicts, import, validate with places, publish
with author and note, the two-person rule, roll back."""

import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from coach.programmes.drafts import (
    DraftConflict,
    DraftError,
    create_empty,
    create_from_folder,
    create_from_version,
    get_draft,
    import_files,
    save,
    validate_draft,
)
from coach.programmes.edits import edit_step
from coach.programmes.folders import (
    FolderRefused,
    export_zip,
    files_from_zip,
    read_folder,
    version_files,
    write_folder,
    zip_files,
)
from coach.programmes.models import ProgrammeVersion
from coach.programmes.releases import (
    ApprovalNeeded,
    InvalidDraft,
    find_version,
    publish_draft,
    republish,
    version_history,
)
from tests.conftest import PROGRAMMES

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_draft_from_a_folder_saves_with_conflicts(factory) -> None:
    with factory.begin() as session:
        draft = create_from_folder(session, PROGRAMMES / "honesty", "ana@example.org", now=NOW)
        assert draft.revision == 1 and draft.files == read_folder(PROGRAMMES / "honesty")
    with factory.begin() as session:
        files = edit_step(get_draft(session, "honesty").files, "welcome", {"subject": "Hello"})
        assert save(session, "honesty", files, 1, "ana@example.org").revision == 2
    with factory.begin() as session:
        with pytest.raises(DraftConflict) as conflict:
            save(session, "honesty", files, 1, "bo@example.org")
        assert conflict.value.updated_by == "ana@example.org" and conflict.value.revision == 2
        assert "ana@example.org saved this draft" in str(conflict.value)
    with factory() as session:
        assert get_draft(session, "honesty").updated_by == "ana@example.org"


def test_create_refuses_twice_and_bad_slugs(factory) -> None:
    with factory.begin() as session:
        create_empty(session, "patience", "Patience", "honesty", "ana@example.org")
        with pytest.raises(DraftError, match="already a draft"):
            create_empty(session, "patience", "Patience", "honesty", "ana@example.org")
        with pytest.raises(DraftError, match="slug"):
            create_empty(session, "../etc", "x", "honesty", "ana@example.org")
        with pytest.raises(DraftError, match="choose a quality"):
            create_empty(session, "other", "x", "patience", "ana@example.org")


def test_validate_draft_uses_the_cli_validator_and_names_places() -> None:
    files = read_folder(PROGRAMMES / "honesty")
    assert validate_draft(files) == []
    broken = edit_step(files, "w1-reflect", {"sms": "Hi {{ nmae }}."})
    broken = edit_step(broken, "w2-reflect", {"gap_days": "soon"})
    problems = validate_draft(broken, "honesty")
    by_file = {p.file: p for p in problems}
    template = by_file["steps/w1-reflect.j2"]
    assert (template.step, template.field, template.line) == ("w1-reflect", "sms", 1)
    assert "nmae" in template.message
    yaml_problem = by_file["programme.yaml"]
    assert (yaml_problem.step, yaml_problem.field) == ("w2-reflect", "gap_days")
    assert "gap_days must be a whole number" in yaml_problem.message


def test_validate_draft_matches_the_cli(tmp_path: Path) -> None:
    from coach.programmes.validate import validate_folder

    files = edit_step(read_folder(PROGRAMMES / "honesty"), "welcome", {"sms": "{{ 1/0 }}"})
    write_folder(files, tmp_path / "honesty")
    cli = [(Path(p.file).relative_to(tmp_path / "honesty").as_posix(), p.line, p.message)
           for p in validate_folder(tmp_path / "honesty").problems]
    assert [(p.file, p.line, p.message) for p in validate_draft(files, "honesty")] == cli


def test_publish_with_author_note_and_two_people(factory) -> None:
    with factory.begin() as session:
        create_from_folder(session, PROGRAMMES / "honesty", "ana@example.org")
        with pytest.raises(ApprovalNeeded, match="two people"):
            publish_draft(session, "honesty", by="ana@example.org", note="first",
                          expected_revision=1, two_person=True)
        with pytest.raises(ApprovalNeeded, match="second publisher"):
            publish_draft(session, "honesty", by="ana@example.org", note="first",
                          expected_revision=1, approved_by="ANA@example.org", two_person=True)
        version, created = publish_draft(session, "honesty", by="ana@example.org",
                                         note="first", expected_revision=1,
                                         approved_by="bo@example.org", two_person=True)
        assert created and version.number == 1
        assert (version.published_by, version.note, version.approved_by) == (
            "ana@example.org", "first", "bo@example.org")
        assert version_files(version.definition) == read_folder(PROGRAMMES / "honesty")
        assert files_from_zip(export_zip(version)) == read_folder(PROGRAMMES / "honesty")
        assert get_draft(session, "honesty").based_on_version_id == version.id


def test_only_a_draft_that_validates_is_published(factory) -> None:
    with factory.begin() as session:
        draft = create_from_folder(session, PROGRAMMES / "honesty", "ana@example.org")
        save(session, "honesty", edit_step(draft.files, "welcome", {"subject": ""}), 1, "ana")
        with pytest.raises(DraftConflict):
            publish_draft(session, "honesty", by="ana", note=None, expected_revision=1)
        with pytest.raises(InvalidDraft) as invalid:
            publish_draft(session, "honesty", by="ana", note=None, expected_revision=2)
        assert invalid.value.problems[0].field == "subject"
        assert session.scalars(select(ProgrammeVersion)).first() is None


def test_roll_back_publishes_an_earlier_version_again(factory) -> None:
    with factory.begin() as session:
        draft = create_from_folder(session, PROGRAMMES / "honesty", "ana")
        publish_draft(session, "honesty", by="ana", note="one", expected_revision=1)
        save(session, "honesty", edit_step(draft.files, "welcome", {"subject": "Hi"}), 1, "ana")
        two, _ = publish_draft(session, "honesty", by="ana", note="two", expected_revision=2)
        three, created = republish(session, "honesty", 1, by="bo", note=None)
        assert created and three.number == 3 and three.note == "version 1 published again"
        assert three.checksum == find_version(session, "honesty", 1).checksum != two.checksum
        assert [v["number"] for v in version_history(session, "honesty")] == [3, 2, 1]
        assert republish(session, "honesty", 3, by="bo", note=None)[1] is False


def test_a_draft_from_a_version_and_import_over_it(factory) -> None:
    honesty = read_folder(PROGRAMMES / "honesty")
    with factory.begin() as session:
        create_from_folder(session, PROGRAMMES / "honesty", "ana")
        version, _ = publish_draft(session, "honesty", by="ana", note=None, expected_revision=1)
        assert import_files(session, "honesty", honesty, "ana")[1] == "unchanged"
        changed = edit_step(honesty, "welcome", {"subject": "Hi"})
        assert import_files(session, "honesty", changed, "ana")[1] == "updated"
        with pytest.raises(DraftError, match="--force"):
            import_files(session, "honesty", honesty, "bo")
        draft, what = import_files(session, "honesty", honesty, "bo", force=True)
        assert (what, draft.files, draft.revision) == ("updated", honesty, 3)
        session.delete(draft)
        session.flush()
        again = create_from_version(session, version, "bo")
        assert again.files == honesty and again.based_on_version_id == version.id


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if name == symlink:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_zip_round_trip_and_refusals() -> None:
    honesty = read_folder(PROGRAMMES / "honesty")
    assert files_from_zip(zip_files(honesty, "honesty")) == honesty
    good = b"title: x\n"
    cases = {
        "../": _zip({"programme.yaml": good, "../evil.j2": b"x"}),
        "absolute": _zip({"programme.yaml": good, "/etc/passwd": b"x"}),
        "symlink": _zip({"programme.yaml": good, "steps/a.j2": b"/etc/passwd"}, "steps/a.j2"),
        "too large": _zip({"programme.yaml": b"x" * 500_000}),
        "not UTF-8": _zip({"programme.yaml": b"\xff\xfe"}),
        "not a zip": b"PK nothing",
        "no programme": _zip({"steps/a.j2": b"x"}),
    }
    for what, data in cases.items():
        with pytest.raises(FolderRefused):
            files_from_zip(data)
        assert what


def test_folder_refusals(tmp_path: Path) -> None:
    with pytest.raises(FolderRefused, match="not a folder"):
        read_folder(tmp_path / "missing")
    folder = tmp_path / "p"
    write_folder(read_folder(PROGRAMMES / "honesty"), folder)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, folder / "steps" / "leak.j2")
    with pytest.raises(FolderRefused, match="symlink"):
        read_folder(folder)
    with pytest.raises(FolderRefused, match="inside the programme folder"):
        write_folder({"programme.yaml": "x", "../out.j2": "x"}, tmp_path / "q")
    assert not (tmp_path / "q").exists() and not (tmp_path / "out.j2").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(FolderRefused, match="not empty"):
        write_folder({"programme.yaml": "x"}, tmp_path / "notes")
