"""Printing a status timeline for a person to read."""

from typing import Any

from rich.console import Console
from rich.table import Table

STYLES = {"sent": "green", "reply": "cyan", "decision": "yellow", "consent": "magenta",
          "flag": "bold red", "failed": "red", "queued": "dim", "unknown": "red"}


def show_status(out: Console, story: dict[str, Any]) -> None:
    person = story["subscriber"]
    out.print(f"[bold]#{person['id']}[/] {person['name'] or '(no name)'} "
              f"{person['email'] or ''} {person['phone'] or ''} — {person['timezone']}, "
              f"sends at {person['send_time']}, quiet {person['quiet_hours']}", highlight=False)
    if person["flagged"]:
        out.print(f"[bold red]flagged:[/] {person['flagged']}")
    for e in story["enrolments"]:
        out.print(f"  {e['programme']} v{e['version']}: {e['state']}, pace {e['pace']:.2f}, "
                  f"step {e['step']}, next due {e['next_due_at'] or '-'}", highlight=False)
    table = Table("at (UTC)", "kind", "channel", "what", "why", show_lines=False, expand=True)
    for entry in story["timeline"]:
        style = STYLES.get(entry["kind"], "")
        table.add_row(entry["at"].replace("T", " ").rstrip("Z"), f"[{style}]{entry['kind']}[/]",
                      entry["channel"] or "", _short(entry["text"]), entry["reason"] or "")
    out.print(table)


def _short(text: str | None, width: int = 90) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
