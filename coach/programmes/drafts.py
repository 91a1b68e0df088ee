"""Drafts: a programme being written, kept as the folder format's files in the database.

A draft starts from a published version, a folder (import) or nothing. Each save names the
revision it started from; a save over a newer revision is a :class:`DraftConflict` that says
who saved it and when, never a silent overwrite. :func:`validate_draft` runs the validator
``coach programmes validate`` runs, on a temporary copy of the folder, and says where each
problem is: file, line, step and field.
"""

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coach.programmes import blocks
from coach.programmes.edits import PROGRAMME_FILE
from coach.programmes.folders import check_files, read_folder, version_files, write_folder
from coach.programmes.loader import load_programme
from coach.programmes.models import Programme, ProgrammeDraft, ProgrammeVersion
from coach.programmes.programme_yaml import FormatError, parse
from coach.programmes.qualities import QUALITIES
from coach.programmes.validate import validate_folder

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# The validator's own word for a field, as the pages name it.
YAML_FIELDS = {"checkin": "question", "practice": "kind"}


class DraftError(ValueError):
    """A draft cannot be made or changed as asked; the message says what to do."""


class DraftConflict(DraftError):
    def __init__(self, draft: ProgrammeDraft):
        self.revision, self.updated_by, self.updated_at = (
            draft.revision, draft.updated_by, draft.updated_at)
        who = draft.updated_by or "someone"
        super().__init__(f"{who} saved this draft at {draft.updated_at:%Y-%m-%d %H:%M} UTC "
                         f"(revision {draft.revision}) after you opened it; reload it to see "
                         "their changes, then make yours again")


@dataclass(frozen=True)
class DraftProblem:
    file: str  # relative to the programme folder: programme.yaml, steps/welcome.j2
    line: int
    message: str
    step: str | None = None  # the step's key, when the problem is in one
    field: str | None = None  # a step field (sms, subject, question, gap_days ...) or setting

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def get_draft(session: Session, slug: str) -> ProgrammeDraft | None:
    return session.scalars(select(ProgrammeDraft).where(ProgrammeDraft.slug == slug)).first()


def create_from_version(session: Session, version: ProgrammeVersion, by: str | None,
                        now: datetime | None = None) -> ProgrammeDraft:
    return _create(session, version.programme.slug, version_files(version.definition), by,
                   now, based_on=version.id)


def create_from_folder(session: Session, folder: Path, by: str | None, slug: str | None = None,
                       now: datetime | None = None) -> ProgrammeDraft:
    """Raises FolderRefused (a ValueError) for a folder that cannot be read safely."""
    return _create(session, slug or folder.name, read_folder(folder), by, now)


def create_empty(session: Session, slug: str, title: str, quality: str, by: str | None,
                 now: datetime | None = None) -> ProgrammeDraft:
    if quality not in QUALITIES:
        raise DraftError(f"choose a quality: {', '.join(QUALITIES)}")
    files = {
        PROGRAMME_FILE: f"title: {title}\nquality: {quality}\nsteps:\n"
                        "  - key: welcome\n    week: 1\n    gap_days: 0\n",
        "steps/welcome.j2": blocks.new_template({"sms": "", "subject": "", "email": ""}),
    }
    return _create(session, slug, files, by, now)


def save(session: Session, slug: str, files: Mapping[str, str], expected_revision: int,
         by: str | None, now: datetime | None = None) -> ProgrammeDraft:
    """Store the files as the next revision. One UPDATE that matches only the expected
    revision, so two saves at once cannot both win."""
    files = check_files(files)
    draft = _existing(session, slug)
    now = now or datetime.now(UTC)
    done = session.execute(
        update(ProgrammeDraft)
        .where(ProgrammeDraft.id == draft.id, ProgrammeDraft.revision == expected_revision)
        .values(files=files, revision=expected_revision + 1, updated_by=by, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(draft)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise DraftConflict(draft)
    return draft


def import_files(session: Session, slug: str, files: Mapping[str, str], by: str | None, *,
                 force: bool = False, now: datetime | None = None) -> tuple[ProgrammeDraft, str]:
    """Create the draft, or replace its files; returns (draft, what happened). A draft with
    work not yet published is replaced only with ``force``."""
    files = check_files(files)
    draft = get_draft(session, slug)
    if draft is None:
        return _create(session, slug, files, by, now), "created"
    if draft.files == files:
        return draft, "unchanged"
    if not force and has_unpublished_work(session, draft):
        raise DraftError(
            f"the draft {slug} has changes that are not published (revision {draft.revision}, "
            f"saved by {draft.updated_by or 'someone'} at {draft.updated_at:%Y-%m-%d %H:%M} "
            "UTC); publish or export it first, or import with --force to replace it")
    return save(session, slug, files, draft.revision, by, now), "updated"


def has_unpublished_work(session: Session, draft: ProgrammeDraft) -> bool:
    """True unless the draft is the same as its programme's newest version."""
    newest = session.scalars(
        select(ProgrammeVersion).join(Programme).where(Programme.slug == draft.slug)
        .order_by(ProgrammeVersion.number.desc()).limit(1)).first()
    return newest is None or version_files(newest.definition) != draft.files


def discard(session: Session, slug: str) -> None:
    session.delete(_existing(session, slug))
    session.flush()


def validate_draft(files: Mapping[str, str], slug: str = "draft") -> list[DraftProblem]:
    """The problems ``coach programmes validate`` would report for these files as a folder."""
    files = check_files(files)
    with tempfile.TemporaryDirectory(prefix="coach-draft-") as root:
        folder = Path(root) / (slug if SLUG.match(slug) else "draft")
        write_folder(files, folder)
        problems = validate_folder(folder).problems
        located = [(_relative(p.file, folder), p.line, p.message) for p in problems]
    return [_locate(files, path, line, message) for path, line, message in located]


def _create(session: Session, slug: str, files: Mapping[str, str], by: str | None,
            now: datetime | None, based_on: int | None = None) -> ProgrammeDraft:
    if not SLUG.match(slug):
        raise DraftError(f"a programme's slug is lower-case letters, digits and - (like "
                         f"trust-and-care), not {slug!r}")
    if get_draft(session, slug) is not None:
        raise DraftError(f"there is already a draft of {slug}; open it, or discard it first")
    now = now or datetime.now(UTC)
    draft = ProgrammeDraft(slug=slug, files=check_files(files), revision=1,
                           based_on_version_id=based_on, updated_by=by, created_at=now,
                           updated_at=now)
    session.add(draft)
    session.flush()
    return draft


def _existing(session: Session, slug: str) -> ProgrammeDraft:
    draft = get_draft(session, slug)
    if draft is None:
        raise DraftError(f"there is no draft of {slug}")
    return draft


def _relative(path: str, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return path


def _locate(files: Mapping[str, str], path: str, line: int, message: str) -> DraftProblem:
    if path == PROGRAMME_FILE:
        step, field = _yaml_place(files[path], line)
        return DraftProblem(path, line, message, step, field)
    steps = _steps_by_template(files)
    source = files.get(path, "")
    field = next((b.name for b in blocks.find_blocks(source).values()
                  if b.line <= line <= source.count("\n", 0, b.end) + 1), None)
    return DraftProblem(path, line, message, steps.get(path), field)


def _yaml_place(text: str, line: int) -> tuple[str | None, str | None]:
    """The step and the key a line of programme.yaml belongs to."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None, None
    found = re.match(r"^\s*(?:-\s+)?([A-Za-z_]\w*)\s*:", lines[line - 1])
    key = found.group(1) if found else None
    step = None
    for earlier in reversed(lines[:line]):
        item = re.match(r"^\s*-\s+key\s*:\s*[\"']?([^\"'#]+?)[\"']?\s*(#.*)?$", earlier)
        if item:
            step = item.group(1)
            break
        if re.match(r"^[A-Za-z_]", earlier):
            break
    return step, YAML_FIELDS.get(key or "", key)


def _steps_by_template(files: Mapping[str, str]) -> dict[str, str]:
    try:
        return {s.template_path(): s.key for s in parse(files[PROGRAMME_FILE]).steps}
    except FormatError:
        return {}


def draft_definition(files: Mapping[str, str]) -> dict[str, Any]:
    """The definition the loader reads from these files (steps, pacing, title), as a
    published version holds it; problems are not checked here (see validate_draft)."""
    files = check_files(files)
    with tempfile.TemporaryDirectory(prefix="coach-draft-") as root:
        folder = Path(root) / "draft"
        write_folder(files, folder)
        return load_programme(folder).definition
