"""Publishing from the admin pages: a draft that validates becomes a new immutable version with
who published it, their note and, under the two-person rule, who approved it. Rolling back is
publishing an earlier version's files again, as a new version.

Both go through :func:`coach.programmes.services.publish` on a temporary copy of the folder,
so the validator and the checksum are the ones ``coach programmes publish`` uses.
"""

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.programmes.drafts import (
    DraftConflict,
    DraftError,
    DraftProblem,
    get_draft,
    validate_draft,
)
from coach.programmes.folders import version_files, write_folder
from coach.programmes.models import Programme, ProgrammeVersion
from coach.programmes.services import publish


class InvalidDraft(DraftError):
    def __init__(self, problems: list[DraftProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) to fix before publishing: "
                         + "; ".join(str(p) for p in problems[:3]))


class ApprovalNeeded(DraftError):
    """The two-person rule: a second publisher, not the one publishing, approves."""


def check_approval(published_by: str | None, approved_by: str | None, required: bool) -> None:
    """Raises ApprovalNeeded unless the approval is by someone else (or none is needed)."""
    same = bool(approved_by) and _same(published_by, approved_by)
    if same:
        raise ApprovalNeeded("an approval must come from a second publisher, not from the "
                             "one publishing")
    if required and not approved_by:
        raise ApprovalNeeded("two people must agree to publish: ask another publisher to "
                             "approve this draft")


def publish_draft(session: Session, slug: str, *, by: str, note: str | None,
                  expected_revision: int, approved_by: str | None = None,
                  two_person: bool = False) -> tuple[ProgrammeVersion, bool]:
    """The draft at ``expected_revision`` (what the publisher, and the approver, saw) as a new
    version; returns (version, created). Unchanged content returns the newest version."""
    draft = get_draft(session, slug)
    if draft is None:
        raise DraftError(f"there is no draft of {slug}")
    if draft.revision != expected_revision:
        raise DraftConflict(draft)
    check_approval(by, approved_by, two_person)
    version, created = _publish_files(session, slug, draft.files, by, note, approved_by)
    draft.based_on_version_id = version.id
    return version, created


def republish(session: Session, slug: str, number: int, *, by: str, note: str | None,
              approved_by: str | None = None, two_person: bool = False,
              ) -> tuple[ProgrammeVersion, bool]:
    """Roll back: version ``number``'s files published again as the newest version."""
    check_approval(by, approved_by, two_person)
    old = find_version(session, slug, number)
    note = note or f"version {number} published again"
    return _publish_files(session, slug, version_files(old.definition), by, note, approved_by)


def find_version(session: Session, slug: str, number: int) -> ProgrammeVersion:
    version = session.scalars(
        select(ProgrammeVersion).join(Programme)
        .where(Programme.slug == slug, ProgrammeVersion.number == number)).first()
    if version is None:
        raise DraftError(f"{slug} has no version {number}; see coach programmes list")
    return version


def version_history(session: Session, slug: str) -> list[dict[str, Any]]:
    """Every version of a programme, newest first, as the pages list them."""
    versions = session.scalars(
        select(ProgrammeVersion).join(Programme).where(Programme.slug == slug)
        .order_by(ProgrammeVersion.number.desc()))
    return [{"id": v.id, "number": v.number, "published_at": v.published_at,
             "published_by": v.published_by, "note": v.note, "approved_by": v.approved_by,
             "steps": len(v.definition["steps"])} for v in versions]


def _publish_files(session: Session, slug: str, files: Mapping[str, str], by: str,
                   note: str | None, approved_by: str | None) -> tuple[ProgrammeVersion, bool]:
    problems = validate_draft(files, slug)
    if problems:
        raise InvalidDraft(problems)
    with tempfile.TemporaryDirectory(prefix="coach-publish-") as root:
        folder = Path(root) / slug
        write_folder(files, folder)
        return publish(session, folder, published_by=by, note=note, approved_by=approved_by)


def _same(one: str | None, other: str | None) -> bool:
    return (one or "").strip().casefold() == (other or "").strip().casefold()

