from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from coach.cli.common import fail
from coach.cli.terminal import shown
from coach.db import transaction
from coach.programmes.services import InvalidProgramme, listing, publish
from coach.programmes.validate import programme_folders, validate_folder
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
