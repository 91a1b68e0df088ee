from datetime import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from coach.cli.common import fail, now_option, parse_now
from coach.cli.terminal import shown
from coach.db import session_factory, transaction
from coach.programmes.drafts import DraftError, draft_definition, get_draft, import_files
from coach.programmes.folders import FolderRefused, read_folder, version_files, write_folder
from coach.programmes.models import Programme, ProgrammeVersion
from coach.programmes.releases import find_version
from coach.programmes.services import InvalidProgramme, listing, publish
from coach.programmes.validate import programme_folders, validate_folder
from coach.scheduling.migrate_people import MigrationError, migrate, plan_migration
from coach.scheduling.walk import PERSONAS, walk
from coach.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Author, check and publish programmes.")
out = Console(soft_wrap=True)


def _folders(names: list[str]) -> list[Path]:
    root = get_settings().programmes_dir
    if not names:
        return programme_folders(root)
    folders = []
    for name in names:
        folder = Path(name) if Path(name).is_dir() else root / name
        if not (folder / "programme.yaml").is_file():
            fail(f"no programme at {name!r}: give a folder holding programme.yaml, or one of: "
                 + ", ".join(f.name for f in programme_folders(root)))
        folders.append(folder)
    return folders


@app.command("list")
def list_command() -> None:
    """Programme folders on disk and their newest published version."""
    with transaction() as session:
        published = {row["slug"]: row for row in listing(session)}
    table = Table("slug", "title", "quality", "published version", "steps")
    for folder in _folders([]):
        loaded = validate_folder(folder)
        row = published.get(folder.name, {})
        table.add_row(shown(folder.name), shown(loaded.definition.get("title", "?")),
                      shown(loaded.definition.get("quality", "?")), str(row.get("version") or "-"),
                      str(len(loaded.definition["steps"])))
    out.print(table)


@app.command("validate")
def validate_command(names: list[str] = typer.Argument(None, help="slugs or folders")) -> None:
    """Report every problem with file and line; exits 1 when there is any."""
    problems = 0
    for folder in _folders(names or []):
        loaded = validate_folder(folder)
        for problem in loaded.problems:
            out.print(shown(str(problem)), highlight=False)
        problems += len(loaded.problems)
        if not loaded.problems:
            out.print(f"{shown(folder.name)}: ok ({len(loaded.definition['steps'])} steps)")
    if problems:
        out.print(f"[red]{problems} problem(s)[/]")
        raise typer.Exit(1)


@app.command("publish")
def publish_command(names: list[str] = typer.Argument(None, help="slugs or folders")) -> None:
    """Store an immutable version of each programme (all when none is named)."""
    folders = _folders(names or [])
    try:
        with transaction() as session:
            for folder in folders:
                version, created = publish(session, folder)
                word = "published" if created else "unchanged, still"
                out.print(f"{shown(folder.name)}: {word} version {version.number}")
    except InvalidProgramme as error:
        for problem in error.problems:
            out.print(shown(str(problem)), highlight=False)
        fail("nothing was published; fix the problems above and publish again")


@app.command("export")
def export_command(
    slug: str, folder: Path,
    version: int = typer.Option(None, "--version", help="the version number (default: newest)"),
) -> None:
    """Write a published version as a programme folder (programme.yaml and steps/)."""
    with transaction() as session:
        found = _version(session, slug, version)
        number, files = found.number, version_files(found.definition)
    try:
        write_folder(files, folder)
    except FolderRefused as error:
        fail(str(error))
    out.print(f"{shown(slug)} version {number}: {len(files)} files written to "
              f"{shown(str(folder))}")


@app.command("import")
def import_command(
    folder: Path,
    slug: str = typer.Option(None, "--slug", help="the programme's slug (default: the folder's "
                                                  "name)"),
    force: bool = typer.Option(False, "--force", help="replace a draft that has unpublished "
                                                      "changes"),
    by: str = typer.Option(None, "--by", help="who is importing (shown to other authors)"),
) -> None:
    """Create or update the draft of a programme from a folder; nothing is published."""
    try:
        files = read_folder(folder)
        with transaction() as session:
            draft, what = import_files(session, slug or folder.name, files, by, force=force)
            revision = draft.revision
    except (FolderRefused, DraftError) as error:
        fail(str(error))
    out.print(f"draft {shown(slug or folder.name)}: {what} (revision {revision}, "
              f"{len(files)} files)")


@app.command("walk")
def walk_command(
    slug: str,
    tz: str = typer.Option("Europe/London", "--tz", help="the time zone dates are shown in"),
    start: str | None = typer.Option(None, "--start", help="ISO-8601 start (default: now)"),
    persona: list[str] = typer.Option(None, "--persona", help="answers 4, answers 2 or "
                                                              "never answers (default: all)"),
    at: str = typer.Option("18:00", "--at", help="the preferred send time, 24-hour HH:MM"),
    version: int = typer.Option(None, "--version", help="a version (default: newest)"),
    draft: bool = typer.Option(False, "--draft", help="walk the draft instead"),
) -> None:
    """When each message would go, for people who answer 4, answer 2, or never answer."""
    chosen = tuple(p for p in PERSONAS if not persona or p.name in persona)
    if not chosen:
        fail("--persona is one of: " + ", ".join(p.name for p in PERSONAS))
    definition = _definition(slug, version, draft)
    try:
        rows = walk(definition, timezone=tz, start=parse_now(start), personas=chosen,
                    send_time=time.fromisoformat(at))
    except (ValueError, KeyError) as error:
        fail(f"cannot walk {slug}: {error}")
    table = Table("persona", "when (UTC)", f"local ({tz})", "kind", "step", "week", "reason")
    for row in rows:
        table.add_row(row.persona, f"{row.at:%Y-%m-%d %H:%M}", f"{row.local:%a %d %b %H:%M}",
                      row.kind, shown(row.step or "-"), str(row.week or "-"), shown(row.reason))
    out.print(table)


@app.command("migrate")
def migrate_command(
    slug: str,
    from_number: int = typer.Option(..., "--from", help="the version people are on"),
    to_number: int = typer.Option(..., "--to", help="the version to move them to"),
    maps: list[str] = typer.Option(None, "--map", help="old=new step keys (old= for none)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="say who would move, change nothing"),
    now: str | None = now_option(),
) -> None:
    """Move the people on one version of a programme to another, steps mapped by key."""
    overrides = _overrides(maps or [])
    try:
        if dry_run:
            with transaction() as session:
                result = plan_migration(session, slug, from_number, to_number, overrides,
                                        parse_now(now))
            moves = result.moves
        else:
            factory = session_factory(get_settings().effective_database_url)
            moves = migrate(factory, slug, from_number, to_number, overrides, parse_now(now))
    except MigrationError as error:
        fail(str(error))
    table = Table("enrolment", "last sent", "next", "kind", "when (UTC)")
    for move in moves:
        when = f"{move.next_at:%Y-%m-%d %H:%M}" if move.next_at else "-"
        table.add_row(str(move.enrolment_id), shown(move.last_sent or "-"),
                      shown(move.next_step or "(end)"), move.next_kind, when)
    out.print(table)
    word = "would move" if dry_run else "moved"
    out.print(f"{len(moves)} people {word} from version {from_number} to {to_number}")


def _version(session: Any, slug: str, number: int | None) -> ProgrammeVersion:
    try:
        if number is not None:
            return find_version(session, slug, number)
    except DraftError as error:
        fail(str(error))
    newest = session.scalars(select(ProgrammeVersion).join(Programme)
                             .where(Programme.slug == slug)
                             .order_by(ProgrammeVersion.number.desc()).limit(1)).first()
    if newest is None:
        fail(f"{slug} is not published; see coach programmes list")
    return newest


def _definition(slug: str, version: int | None, draft: bool) -> dict[str, Any]:
    with transaction() as session:
        if not draft:
            return dict(_version(session, slug, version).definition)
        found = get_draft(session, slug)
        if found is None:
            fail(f"there is no draft of {slug}")
        return draft_definition(found.files)


def _overrides(maps: list[str]) -> dict[str, str | None]:
    overrides: dict[str, str | None] = {}
    for item in maps:
        old, equals, new = item.partition("=")
        if not equals or not old:
            fail(f"--map {item!r}: write old=new (or old= to map a step to nothing)")
        overrides[old.strip()] = new.strip() or None
    return overrides
