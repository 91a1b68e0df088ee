"""Printing a status timeline for a person to read."""

from typing import Any

from rich.console import Console

from coach.cli.terminal import shown

STYLES = {"sent": "green", "reply": "cyan", "decision": "yellow", "consent": "magenta",
          "flag": "bold red", "failed": "red", "queued": "dim", "unknown": "red"}


def show_status(out: Console, story: dict[str, Any]) -> None:
    person = story["subscriber"]
    out.print(f"[bold]#{person['id']}[/] {shown(person['name']) or '(no name)'} "
              f"{shown(person['email'])} {shown(person['phone'])} — {person['timezone']}, "
              f"sends at {person['send_time']}, quiet {person['quiet_hours']}", highlight=False)
    if person["flagged"]:
        out.print(f"[bold red]flagged:[/] {shown(person['flagged'])}")
    for e in story["enrolments"]:
        out.print(f"  {shown(e['programme'])} v{e['version']}: {e['state']}, pace {e['pace']:.2f}, "
                  f"step {e['step']}, next due {e['next_due_at'] or '-'}", highlight=False)
    for entry in story["timeline"]:
        style = STYLES.get(entry["kind"], "")
        when = entry["at"].replace("T", " ").rstrip("Z")
        what = entry.get("subject") or entry["text"]
        out.print(f"{when}  [{style}]{entry['kind']:<8}[/] {entry['channel'] or '':<5} "
                  f"{_short(what)}", highlight=False, soft_wrap=True)
        if entry["reason"]:
            out.print(f"{'':>27}[dim]{shown(entry['reason'])}[/]", highlight=False,
                      soft_wrap=True)


def _short(text: str | None, width: int = 90) -> str:
    flat = " ".join((text or "").split())
    return shown(flat if len(flat) <= width else flat[: width - 1] + "…")
