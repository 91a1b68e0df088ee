"""Publishing programme versions and finding the one a new enrolment starts on."""

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coach.programmes.loader import Problem
from coach.programmes.models import Programme, ProgrammeVersion
from coach.programmes.validate import programme_folders, validate_folder

# The key of a version's definition that keeps programme.yaml as written.
PROGRAMME_YAML = "programme_yaml"


class InvalidProgramme(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def publish(session: Session, folder: Path, *, published_by: str | None = None,
            note: str | None = None, approved_by: str | None = None,
            ) -> tuple[ProgrammeVersion, bool]:
    """Store the folder as a new immutable version; returns (version, created).

    Publishing unchanged content returns the existing version rather than a copy. The text of
    programme.yaml is kept beside the definition (its comments too), so an export gives back
    what was published; the checksum is of the definition alone.
    """
    loaded = validate_folder(folder)
    if loaded.problems:
        raise InvalidProgramme(loaded.problems)
    definition = _storable(loaded.definition)
    checksum = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    definition[PROGRAMME_YAML] = (folder / "programme.yaml").read_text(encoding="utf-8")
    programme = _programme(session, definition)
    latest = programme.versions[-1] if programme.versions else None
    if latest is not None and latest.checksum == checksum:
        return latest, False
    version = ProgrammeVersion(
        programme=programme, number=(latest.number + 1) if latest else 1,
        checksum=checksum, definition=definition, published_by=published_by, note=note,
        approved_by=approved_by,
    )
    session.add(version)
    session.flush()
    return version, True


def publish_missing_builtins(session: Session, root: Path) -> list[ProgrammeVersion]:
    """Publish each programme folder that has never been published (used on first run)."""
    published = set(session.scalars(select(Programme.slug)))
    return [publish(session, folder)[0] for folder in programme_folders(root)
            if folder.name not in published]


def version_for_quality(session: Session, quality: str) -> ProgrammeVersion | None:
    """The newest version of the programme for a quality (the one named after it first)."""
    newest = (
        select(ProgrammeVersion)
        .join(Programme)
        .where(Programme.quality == quality)
        .order_by((Programme.slug == quality).desc(), ProgrammeVersion.id.desc())
        .limit(1)
    )
    return session.scalars(newest).first()


def listing(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Programme.slug, Programme.title, Programme.quality,
               func.max(ProgrammeVersion.number))
        .join(ProgrammeVersion, isouter=True)
        .group_by(Programme.id)
        .order_by(Programme.slug)
    )
    return [{"slug": s, "title": t, "quality": q, "version": v} for s, t, q, v in rows]


def _programme(session: Session, definition: dict[str, Any]) -> Programme:
    found = session.scalars(select(Programme).where(Programme.slug == definition["slug"])).first()
    if found:
        found.title, found.quality = definition["title"], definition["quality"]
        return found
    programme = Programme(slug=definition["slug"], title=definition["title"],
                          quality=definition["quality"])
    session.add(programme)
    return programme


def _storable(definition: dict[str, Any]) -> dict[str, Any]:
    steps = [{k: v for k, v in step.items() if k != "line"} for step in definition["steps"]]
    return {**definition, "steps": steps}
