"""A programme's releases, under ``/admin/programmes/{slug}/``: walk the schedule, publish,
diff, the version history (zip, roll back), import a zip as the draft, migrate people.

Each page calls the authoring services the CLI uses (coach/programmes/releases.py, diff.py,
folders.py, coach/scheduling/walk.py, migrate_people.py); every refusal is a :class:`Refused`
that says what to do, shown on the page, with nothing changed. Every change is audited in
the transaction that makes it.

**Two people** (``COACH_PUBLISH_TWO_PERSON``): a second publisher opens the publish page and
approves the draft's revision they see (or, on the versions page, a roll back to one
version); the approval is an audit entry. Any publisher other than the approver may then
publish that revision. A save makes a new revision, so an approval never covers words its
approver did not see; a roll back's approval lapses once anything is published.
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from coach.admin.audit import audit
from coach.admin.models import AdminAccount, AuditEntry
from coach.admin.roles import (
    DRAFTS_EDIT,
    DRAFTS_PREVIEW,
    PEOPLE_MIGRATE,
    PROGRAMMES_VIEW,
    VERSIONS_PUBLISH,
    can,
)
from coach.programmes.diff import ProgrammeDiff, diff_files
from coach.programmes.drafts import (
    DraftConflict,
    DraftError,
    draft_definition,
    get_draft,
    import_files,
    validate_draft,
)
from coach.programmes.folders import FolderRefused, export_zip, files_from_zip, version_files
from coach.programmes.models import Programme, ProgrammeDraft, ProgrammeVersion
from coach.programmes.releases import (
    InvalidDraft,
    find_version,
    publish_draft,
    republish,
    version_history,
)
from coach.scheduling.migrate_people import MigrationError, migrate, plan_migration
from coach.scheduling.models import COMPLETED, STOPPED, Enrolment
from coach.scheduling.walk import PERSONAS, walk
from coach.web.admin.guard import requires, web_of
from coach.web.admin.pages import render
from coach.web.choices import time_zones
from coach.web.context import Web, as_sentence

BASE = "/admin/programmes/{slug}"
OBJECT = "programme"
DEFAULT_ZONE = "Europe/London"
MAX_ZIP_BYTES = 1024 * 1024
MAX_NOTE_CHARS = 1000
MAX_MAPPING_CHARS = 20_000
SHOWN_MOVES = 500  # a dry run's table; the counts cover everyone
APPROVALS = ("draft.approved", "version.rollback-approved")
ARROW = re.compile(r"\s*(?:->|→|=)\s*")
T = TypeVar("T")


class Refused(ValueError):
    """The request cannot be served as asked; the message says what to do. Nothing changed."""

    def __init__(self, message: str, status: int = 400, problems: list[Any] | None = None):
        super().__init__(message)
        self.status, self.problems = status, problems or []


def routes(web: Web) -> list[Route]:
    return [
        Route(f"{BASE}/walk", walk_page, methods=["GET"]),
        Route(f"{BASE}/publish", publish_page, methods=["GET"]),
        Route(f"{BASE}/publish", publish_post, methods=["POST"]),
        Route(f"{BASE}/publish/approve", approve_post, methods=["POST"]),
        Route(f"{BASE}/diff", diff_page, methods=["GET"]),
        Route(f"{BASE}/versions", versions_page, methods=["GET"]),
        Route(BASE + "/versions/{number:int}.zip", version_zip, methods=["GET"]),
        Route(BASE + "/versions/{number:int}/rollback", rollback_post, methods=["POST"]),
        Route(BASE + "/versions/{number:int}/approve", approve_rollback_post, methods=["POST"]),
        Route(f"{BASE}/import", import_page, methods=["GET"]),
        Route(f"{BASE}/import", import_post, methods=["POST"]),
        Route(f"{BASE}/migrate", migrate_page, methods=["GET"]),
        Route(f"{BASE}/migrate", migrate_post, methods=["POST"]),
        Route(f"{BASE}/migrate/run", migrate_run, methods=["POST"]),
    ]


# Walk the schedule ---------------------------------------------------------------------------

@requires(DRAFTS_PREVIEW)
async def walk_page(request: Request) -> Response:
    query = request.query_params
    form = {"tz": query.get("tz", DEFAULT_ZONE)[:60], "version": query.get("version", "")[:12],
            "start": query.get("start", "")[:10], "at": query.get("at", "18:00")[:5]}
    form["start"] = form["start"] or f"{web_of(request).now():%Y-%m-%d}"
    return await _serve(request, "admin/release_walk.html", lambda s: _walk(s, _slug(request),
                        form), {"form": form, "zones": time_zones()})


def _walk(session: Session, slug: str, form: dict[str, str]) -> dict[str, Any]:
    label, definition = _definition(session, slug, form["version"])
    zone, start, at = _zone(form["tz"]), _date(form["start"]), _clock_time(form["at"])
    first = datetime.combine(start, time(0), ZoneInfo(zone)).astimezone(UTC)
    rows = walk(definition, timezone=zone, start=first, send_time=at)
    tables = [(p.name, [r for r in rows if r.persona == p.name]) for p in PERSONAS]
    return {"label": label, "tables": tables, "zone": zone}


# Publish -------------------------------------------------------------------------------------

@requires(VERSIONS_PUBLISH)
async def publish_page(request: Request) -> Response:
    return await _serve(request, "admin/release_publish.html",
                        lambda s: _publish_state(s, request))


@requires(VERSIONS_PUBLISH)
async def publish_post(request: Request) -> Response:
    form = await request.form()
    note, revision = _text(form.get("note"), MAX_NOTE_CHARS), _number(form.get("revision"))

    def publish(session: Session) -> dict[str, Any]:
        account, slug, web = request.state.admin, _slug(request), web_of(request)
        if not note:
            raise Refused("Write a note saying what changed and why; it is kept with the "
                          "version.")
        draft = _draft(session, slug)
        approver = _approver(session, web, account, slug, _draft_subject(draft, revision))
        try:
            version, created = publish_draft(
                session, slug, by=account.email, note=note, expected_revision=revision,
                approved_by=approver, two_person=web.settings.publish_two_person)
        except InvalidDraft as error:
            raise Refused("The draft cannot be published until these problems are fixed in "
                          "the editor.", problems=error.problems) from None
        except DraftConflict as error:
            raise Refused(as_sentence(str(error)), status=409) from None
        if not created:
            raise Refused(f"The draft is the same as version {version.number}; nothing was "
                          "published. Change the draft first.")
        audit(session, account, "version.published", OBJECT, slug,
              f"version {version.number} from draft revision {revision}"
              + (f", approved by {approver}" if approver else ""), at=web.now())
        return {"done": f"Published as version {version.number}. People already on earlier "
                        "versions stay there until you migrate them.", "version": version.number}

    return await _act(request, publish, "admin/release_publish.html",
                      lambda s: _publish_state(s, request), {"note": note})


@requires(VERSIONS_PUBLISH)
async def approve_post(request: Request) -> Response:
    revision = _number((await request.form()).get("revision"))

    def approve(session: Session) -> dict[str, Any]:
        account, slug, web = request.state.admin, _slug(request), web_of(request)
        _two_person_on(web)
        draft = _draft(session, slug)
        if draft.revision != revision:
            raise Refused(f"The draft changed since you opened it (it is now revision "
                          f"{draft.revision}); read it again, then approve.", status=409)
        problems = validate_draft(draft.files, slug)
        if problems:
            raise Refused("A draft with problems cannot be approved; ask its author to fix "
                          "them.", problems=problems)
        audit(session, account, "draft.approved", OBJECT, slug,
              _draft_subject(draft, revision), at=web.now())
        return {"done": f"You approved revision {revision}. Another publisher may now publish "
                        "it; a further save needs a new approval."}

    return await _act(request, approve, "admin/release_publish.html",
                      lambda s: _publish_state(s, request))


def _publish_state(session: Session, request: Request) -> dict[str, Any]:
    slug, web, account = _slug(request), web_of(request), request.state.admin
    draft = _draft(session, slug)
    newest = _newest(session, slug)
    approvals = _approvals(session, slug, _draft_subject(draft, draft.revision))
    return {"draft": draft, "problems": validate_draft(draft.files, slug), "newest": newest,
            "diff": _diff(version_files(newest.definition), draft.files) if newest else None,
            "two_person": web.settings.publish_two_person, "approvals": approvals,
            "approved_by_me": account.email in approvals,
            "approved_by_other": any(a != account.email for a in approvals)}


# Diff ----------------------------------------------------------------------------------------

@requires(PROGRAMMES_VIEW)
async def diff_page(request: Request) -> Response:
    query = request.query_params
    form = {"from": query.get("from", "")[:12], "to": query.get("to", "")[:12]}
    return await _serve(request, "admin/release_diff.html",
                        lambda s: _diff_of(s, _slug(request), form), {"form": form})


def _diff_of(session: Session, slug: str, form: dict[str, str]) -> dict[str, Any]:
    newest, draft = _newest(session, slug), get_draft(session, slug)
    if newest is None:
        raise Refused(f"{slug} has no published version to compare; publish one first.", 404)
    form["from"] = form["from"] or str(newest.number)
    form["to"] = form["to"] or ("draft" if draft else str(newest.number))
    old, new = _files(session, slug, form["from"]), _files(session, slug, form["to"])
    return {"diff": _diff(old, new), "versions": version_history(session, slug),
            "has_draft": draft is not None}


def _files(session: Session, slug: str, which: str) -> dict[str, str]:
    if which == "draft":
        return dict(_draft(session, slug).files)
    return version_files(_version(session, slug, which).definition)


def _diff(old: dict[str, str], new: dict[str, str]) -> ProgrammeDiff:
    try:
        return diff_files(old, new)
    except ValueError as error:
        raise Refused(f"The draft cannot be compared: {error}. Fix programme.yaml in the "
                      "editor first.") from None


# Versions: history, zip, roll back -------------------------------------------------------------

@requires(PROGRAMMES_VIEW)
async def versions_page(request: Request) -> Response:
    return await _serve(request, "admin/release_versions.html",
                        lambda s: _versions_state(s, request))


@requires(PROGRAMMES_VIEW)
async def version_zip(request: Request) -> Response:
    slug, number = _slug(request), request.path_params["number"]

    def make(session: Session) -> bytes:
        data = export_zip(find_version(session, slug, number))
        audit(session, request.state.admin, "version.downloaded", OBJECT, slug,
              f"version {number} as a zip", at=web_of(request).now())
        return data

    try:
        data = await run_in_threadpool(_in_transaction, request, make)
    except (DraftError, Refused) as error:
        return render(request, "admin/release_versions.html",
                      {"slug": slug, "versions": [], "error": as_sentence(str(error))}, 404)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{slug}-v{number}.zip"'})


@requires(VERSIONS_PUBLISH)
async def rollback_post(request: Request) -> Response:
    note = _text((await request.form()).get("note"), MAX_NOTE_CHARS)

    def roll_back(session: Session) -> dict[str, Any]:
        account, slug, web = request.state.admin, _slug(request), web_of(request)
        number = request.path_params["number"]
        _version(session, slug, str(number))
        approver = _approver(session, web, account, slug, _rollback_subject(session, slug,
                                                                            number))
        try:
            version, created = republish(session, slug, number, by=account.email,
                                         note=note or None, approved_by=approver,
                                         two_person=web.settings.publish_two_person)
        except InvalidDraft as error:
            raise Refused(f"Version {number} no longer passes the validator; fix a draft "
                          "instead.", problems=error.problems) from None
        if not created:
            raise Refused(f"Version {number} is the same as the newest version; nothing was "
                          "published.")
        audit(session, account, "version.rolled-back", OBJECT, slug,
              f"version {number} published again as version {version.number}", at=web.now())
        return {"done": f"Version {number} is published again as version {version.number}."}

    return await _act(request, roll_back, "admin/release_versions.html",
                      lambda s: _versions_state(s, request))


@requires(VERSIONS_PUBLISH)
async def approve_rollback_post(request: Request) -> Response:
    def approve(session: Session) -> dict[str, Any]:
        account, slug, web = request.state.admin, _slug(request), web_of(request)
        number = request.path_params["number"]
        _two_person_on(web)
        _version(session, slug, str(number))
        audit(session, account, "version.rollback-approved", OBJECT, slug,
              _rollback_subject(session, slug, number), at=web.now())
        return {"done": f"You approved rolling back to version {number}. Another publisher "
                        "may now do it, until anything else is published."}

    return await _act(request, approve, "admin/release_versions.html",
                      lambda s: _versions_state(s, request))


def _versions_state(session: Session, request: Request) -> dict[str, Any]:
    slug, web, account = _slug(request), web_of(request), request.state.admin
    _known(session, slug)
    versions, people = version_history(session, slug), _people_by_version(session)
    for row in versions:
        row["people"] = people.get(row["id"], 0)
        row["approvals"] = _approvals(session, slug,
                                      _rollback_subject(session, slug, row["number"]))
    return {"versions": versions, "two_person": web.settings.publish_two_person,
            "may_publish": can(account.role, VERSIONS_PUBLISH)}


def _people_by_version(session: Session) -> dict[int, int]:
    rows = session.execute(select(Enrolment.version_id, func.count())
                           .where(Enrolment.state.not_in([COMPLETED, STOPPED]))
                           .group_by(Enrolment.version_id))
    return {version_id: count for version_id, count in rows}


# Import a zip as the draft -------------------------------------------------------------------

@requires(DRAFTS_EDIT)
async def import_page(request: Request) -> Response:
    return await _serve(request, "admin/release_import.html", lambda s: _import_state(s, request))


@requires(DRAFTS_EDIT)
async def import_post(request: Request) -> Response:
    form = await request.form()
    try:
        data, force = await _upload_bytes(form.get("zip")), form.get("force") == "on"
    finally:
        await form.close()

    def take(session: Session) -> dict[str, Any]:
        account, slug = request.state.admin, _slug(request)
        if data is None:
            raise Refused("Choose a .zip file of the programme folder to import.")
        if len(data) > MAX_ZIP_BYTES:
            raise Refused("The zip is over 1 MiB; a programme folder is far smaller. Zip "
                          "only programme.yaml and steps/.")
        try:
            draft, what = import_files(session, slug, files_from_zip(data), account.email,
                                       force=force, now=web_of(request).now())
        except (FolderRefused, DraftError) as error:
            raise Refused(f"Nothing was imported: {as_sentence(str(error))}") from None
        audit(session, account, "draft.imported", OBJECT, slug,
              f"{what}, revision {draft.revision}", at=web_of(request).now())
        return {"done": f"The draft is {what} (revision {draft.revision}). Nothing is "
                        "published until you publish it."}

    return await _act(request, take, "admin/release_import.html",
                      lambda s: _import_state(s, request))


def _import_state(session: Session, request: Request) -> dict[str, Any]:
    slug = _slug(request)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", slug):
        raise Refused("A programme's slug is lower-case letters, digits and -.", 404)
    return {"draft": get_draft(session, slug), "limit": "1 MiB"}


async def _upload_bytes(upload: Any) -> bytes | None:
    """At most one byte over the limit, whatever the upload's size."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(MAX_ZIP_BYTES + 1)


# Migrate people ------------------------------------------------------------------------------

@requires(PEOPLE_MIGRATE)
async def migrate_page(request: Request) -> Response:
    return await _serve(request, "admin/release_migrate.html",
                        lambda s: _migrate_state(s, request, {}))


@requires(PEOPLE_MIGRATE)
async def migrate_post(request: Request) -> Response:
    """The dry run: who would move, where each lands, the next message and when."""
    form = _migration_form(await request.form())

    def plan(session: Session) -> dict[str, Any]:
        account, slug, web = request.state.admin, _slug(request), web_of(request)
        from_number, to_number, mapping = _migration_args(form)
        try:
            result = plan_migration(session, slug, from_number, to_number, mapping, web.now())
        except MigrationError as error:
            raise Refused(as_sentence(str(error))) from None
        audit(session, account, "people.migration-planned", OBJECT, slug,
              f"{len(result.moves)} people from version {from_number} to {to_number}",
              at=web.now())
        return {"plan": result, "summary": result.summary(),
                "moves": result.moves[:SHOWN_MOVES]}

    return await _act(request, plan, "admin/release_migrate.html",
                      lambda s: _migrate_state(s, request, form), form)


@requires(PEOPLE_MIGRATE)
async def migrate_run(request: Request) -> Response:
    form = _migration_form(await request.form())
    web, slug, account = web_of(request), _slug(request), request.state.admin
    try:
        from_number, to_number, mapping = _migration_args(form)
        moves = await run_in_threadpool(migrate, web.factory, slug, from_number, to_number,
                                        mapping, web.now(), account.email)
    except (Refused, MigrationError) as error:
        return await _serve(request, "admin/release_migrate.html",
                            lambda s: _migrate_state(s, request, form),
                            {"error": as_sentence(str(error))}, status=400)

    def record(session: Session) -> dict[str, Any]:
        audit(session, account, "people.migrated", OBJECT, slug,
              f"{len(moves)} people from version {from_number} to {to_number}", at=web.now())
        return {}

    await run_in_threadpool(_in_transaction, request, record)
    done = (f"{len(moves)} people moved from version {from_number} to {to_number}."
            if moves else f"Nobody is on version {from_number} any more; nothing changed.")
    return await _serve(request, "admin/release_migrate.html",
                        lambda s: _migrate_state(s, request, form),
                        {"done": done, "moved": moves[:SHOWN_MOVES], "moved_count": len(moves)})


def _migrate_state(session: Session, request: Request, form: dict[str, str]) -> dict[str, Any]:
    slug = _slug(request)
    versions = version_history(session, slug)
    if not versions:
        raise Refused(f"{slug} has no published version; publish one first.", 404)
    people = _people_by_version(session)
    for row in versions:
        row["people"] = people.get(row["id"], 0)
    chosen = {"from": str(versions[-1]["number"]), "to": str(versions[0]["number"]),
              "mapping": "", **form}
    return {"versions": versions, "form": chosen}


def _migration_form(form: Any) -> dict[str, str]:
    return {"from": _text(form.get("from"), 12), "to": _text(form.get("to"), 12),
            "mapping": _text(form.get("mapping"), MAX_MAPPING_CHARS, strip=False)}


def _migration_args(form: dict[str, str]) -> tuple[int, int, dict[str, str | None]]:
    if not (form["from"].isdigit() and form["to"].isdigit()):
        raise Refused("Choose the version people are on and the version to move them to.")
    return int(form["from"]), int(form["to"]), parse_mapping(form["mapping"])


def parse_mapping(text: str) -> dict[str, str | None]:
    """``old -> new`` a line (``=`` or ``→`` work too); ``old ->`` maps a step to nothing."""
    mapping: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = ARROW.split(line, maxsplit=1)
        if len(parts) != 2 or not parts[0] or any(" " in p for p in parts):
            raise Refused(f"Mapping line {number} ({line[:60]!r}) is not old-key -> new-key; "
                          "write one step a line, like w2-practice -> w2-try, or "
                          "w2-practice -> with nothing after it to map the step to nothing.")
        mapping[parts[0]] = parts[1] or None
    return mapping


# Shared: loading, approvals, serving ---------------------------------------------------------

def _slug(request: Request) -> str:
    return str(request.path_params["slug"])


def _known(session: Session, slug: str) -> None:
    if get_draft(session, slug) is None and session.scalars(
            select(Programme.id).where(Programme.slug == slug)).first() is None:
        raise Refused(f"There is no programme or draft called {slug}; choose one from the "
                      "programme list.", 404)


def _draft(session: Session, slug: str) -> ProgrammeDraft:
    draft = get_draft(session, slug)
    if draft is None:
        _known(session, slug)
        raise Refused(f"There is no draft of {slug}; start one from the programme list or "
                      "import a zip.", 404)
    return draft


def _newest(session: Session, slug: str) -> ProgrammeVersion | None:
    return session.scalars(select(ProgrammeVersion).join(Programme)
                           .where(Programme.slug == slug)
                           .order_by(ProgrammeVersion.number.desc()).limit(1)).first()


def _version(session: Session, slug: str, text: str) -> ProgrammeVersion:
    if not text.isdigit():
        raise Refused(f"{text[:12]!r} is not a version; choose a version number (or the "
                      "draft).")
    try:
        return find_version(session, slug, int(text))
    except DraftError:
        _known(session, slug)
        raise Refused(f"{slug} has no version {text}; choose one from the version history.",
                      404) from None


def _definition(session: Session, slug: str, which: str) -> tuple[str, dict[str, Any]]:
    """(what it is, its definition): the draft (the default when there is one) or a version."""
    if which not in ("", "draft"):
        version = _version(session, slug, which)
        return f"version {version.number}", dict(version.definition)
    draft = get_draft(session, slug)
    if draft is None and which == "":
        newest = _newest(session, slug)
        if newest is not None:
            return f"version {newest.number}", dict(newest.definition)
    draft = _draft(session, slug)
    problems = validate_draft(draft.files, slug)
    if problems:
        raise Refused("The draft has problems, so its schedule cannot be walked; fix them in "
                      "the editor, or walk a published version.", problems=problems)
    return f"the draft (revision {draft.revision})", draft_definition(draft.files)


def _zone(name: str) -> str:
    if name not in available_timezones():
        raise Refused(f"{name[:60]!r} is not a time zone; choose one from the list, like "
                      "Europe/London.")
    return name


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None
    if not 2000 <= day.year <= 2100:
        raise Refused("Choose a start date between 2000 and 2100.")
    return day


def _clock_time(text: str) -> time:
    if not re.fullmatch(r"[0-2][0-9]:[0-5][0-9]", text) or int(text[:2]) > 23:
        raise Refused(f"{text!r} is not a time of day; write it as HH:MM, like 18:00.")
    return time.fromisoformat(text)


def _draft_subject(draft: ProgrammeDraft, revision: int) -> str:
    """What an approval of a draft covers: one revision of one draft (a draft discarded and
    started again is another, even with the same id and revision)."""
    return f"draft {draft.id} revision {revision}, started {draft.created_at:%Y-%m-%dT%H:%M:%S}"


def _rollback_subject(session: Session, slug: str, number: int) -> str:
    """A roll back's approval covers it only while the same version is the newest."""
    newest = _newest(session, slug)
    return f"version {number} over version {newest.number if newest else 0}"


def _approvals(session: Session, slug: str, subject: str) -> list[str]:
    """Emails of the publishers (still publishers) who approved ``subject``."""
    rows = session.execute(
        select(AdminAccount.email, AdminAccount.role, AdminAccount.disabled_at)
        .join(AuditEntry, AuditEntry.account_id == AdminAccount.id)
        .where(AuditEntry.action.in_(APPROVALS), AuditEntry.object_type == OBJECT,
               AuditEntry.object_id == slug, AuditEntry.detail == subject))
    return sorted({email for email, role, off in rows
                   if off is None and can(role, VERSIONS_PUBLISH)})


def _approver(session: Session, web: Web, account: AdminAccount, slug: str,
              subject: str) -> str | None:
    """Another publisher's approval of ``subject`` when two people must agree, else None."""
    if not web.settings.publish_two_person:
        return None
    others = [e for e in _approvals(session, slug, subject) if e != account.email]
    if not others:
        raise Refused("Two people must agree to publish: ask another publisher to open this "
                      "page and approve it, then publish.", status=403)
    return others[0]


def _two_person_on(web: Web) -> None:
    if not web.settings.publish_two_person:
        raise Refused("No approval is needed here: publishing takes one publisher "
                      "(COACH_PUBLISH_TWO_PERSON is off).")


def _in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    with web_of(request).factory.begin() as session:
        return work(session)


async def _serve(request: Request, template: str, state: Callable[[Session], dict[str, Any]],
                 extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """A page: its state read in one transaction, or the refusal, on the same template."""
    values = {"slug": _slug(request), **(extra or {})}
    try:
        values |= await run_in_threadpool(_in_transaction, request, state)
    except Refused as error:
        return render(request, template, {**values, "error": str(error),
                                          "problems": error.problems}, error.status)
    return render(request, template, values, status)


async def _act(request: Request, action: Callable[[Session], dict[str, Any]], template: str,
               state: Callable[[Session], dict[str, Any]],
               extra: dict[str, Any] | None = None) -> Response:
    """Run a change in its own transaction; then show the page as it now is, with what
    happened or (the change rolled back) why not and what to do."""
    try:
        outcome = await run_in_threadpool(_in_transaction, request, action)
    except Refused as error:
        return await _serve(request, template, state, {
            **(extra or {}), "error": str(error), "problems": error.problems}, error.status)
    return await _serve(request, template, state, {**(extra or {}), **outcome})


def _text(value: Any, limit: int, strip: bool = True) -> str:
    text = value if isinstance(value, str) else ""
    return (text.strip() if strip else text)[:limit]


def _number(value: Any) -> int:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else -1


