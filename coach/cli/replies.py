"""`coach replies`: read one reply (or many, as JSON lines) and measure reply understanding."""

import json
import sys
from typing import Any

import typer

from coach.cli.common import fail
from coach.inbound.understanding import CONTEXTS, Reader, default_reader, understand
from coach.inbound.understanding.corpus import SPLITS, read_split
from coach.inbound.understanding.evaluation import evaluate, render

app = typer.Typer(no_args_is_help=True, help="Understand replies: classify one, or evaluate.")
LANGUAGES = ("en", "es")
METHODS = ("logistic", "naive-bayes", "wordlists")


def _check(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        fail(f"{name} {value!r} is not known; use one of: {', '.join(allowed)}")


def _country(value: str | None) -> str | None:
    if value is not None and not (len(value) == 2 and value.isalpha()):
        fail(f"--country {value!r} is not a two-letter country code; use e.g. US, GB or MX")
    return value.upper() if value else None


@app.command("classify")
def classify_command(
    text: str | None = typer.Argument(None, help="the reply; omit it with --jsonl"),
    context: str = typer.Option("none", help="what is open: scale, text or none"),
    language: str = typer.Option("en", help="the subscriber's language: en or es"),
    country: str | None = typer.Option(None, help="ISO country code, like US or MX"),
    jsonl: bool = typer.Option(False, "--jsonl", help="read JSON objects, one a line, from "
                               "stdin (text, optional context, language, country)"),
) -> None:
    """Print what a reply means as one JSON object (one a line with --jsonl)."""
    _check("--context", context, CONTEXTS)
    _check("--language", language, LANGUAGES)
    if jsonl:
        _classify_lines()
        return
    if text is None or not text.strip():
        fail("give the reply to read, like: coach replies classify \"pause 2 weeks\"; "
             "or --jsonl to read many from stdin")
    result = understand(text, context, language, _country(country))
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))


def _classify_lines() -> None:
    for number, line in enumerate(sys.stdin, start=1):
        if line.strip():
            request = _request(line, number)
            typer.echo(json.dumps(understand(**request).as_dict(), ensure_ascii=False))


def _request(line: str, number: int) -> dict[str, Any]:
    """One line's arguments; a bad line stops the run naming the line, never its words."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        fail(f"line {number} is not JSON; give one object a line, like "
             '{"text": "pause 2 weeks", "context": "none", "language": "en"}')
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        fail(f"line {number} has no \"text\" string; give one object a line with a \"text\"")
    context, language = raw.get("context", "none"), raw.get("language", "en")
    if context not in CONTEXTS or language not in LANGUAGES:
        fail(f"line {number}: context must be one of {', '.join(CONTEXTS)} and language one "
             f"of {', '.join(LANGUAGES)}")
    country = raw.get("country")
    if country is not None and not (isinstance(country, str) and len(country) == 2):
        fail(f"line {number}: country must be a two-letter code like US, or left out")
    return {"text": raw["text"], "context": context, "language": language, "country": country}


@app.command("evaluate")
def evaluate_command(
    split: str = typer.Option("dev", help="dev (to tune on), fresh (a later set, for choosing "
                                          "thresholds) or test (held out; never tune)"),
    method: str = typer.Option("logistic", help="logistic (shipped), naive-bayes or wordlists"),
) -> None:
    """Confusion tables and figures of reply understanding on a labelled split."""
    _check("--split", split, SPLITS)
    _check("--method", method, METHODS)
    try:
        rows = read_split(split)
        reader = _reader(method)
    except FileNotFoundError as error:
        fail(str(error))
    report = evaluate(reader, rows)
    typer.echo(f"{method} on the {split} split ({len(rows)} replies)\n")
    typer.echo(render(report))
    failures = report.failures()
    typer.echo("\nbelow target: " + "; ".join(failures) if failures else "\nall targets met")


def _reader(method: str) -> Reader:
    if method == "wordlists":
        return Reader(None)
    if method == "naive-bayes":
        from coach.inbound.understanding.train import train

        return Reader(train("naive_bayes"))
    return default_reader()
