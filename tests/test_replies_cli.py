"""`coach replies classify`: one JSON object per reply, a stable contract; errors exit 2."""

import json

import pytest
from typer.testing import CliRunner

from coach.cli.main import app

runner = CliRunner()
FIELDS = ["intent", "risk", "category", "rating", "days", "reasons"]


def classify(*args: str, stdin: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, ["replies", "classify", *args], input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def test_one_reply_prints_one_object_with_the_contract_fields():
    result = json.loads(classify("--context", "none", "pause 2 weeks"))
    assert list(result) == FIELDS
    assert (result["intent"], result["days"], result["risk"], result["category"]) == (
        "pause", 14, "none", None)


def test_context_language_and_country_are_used():
    result = json.loads(classify("--context", "scale", "--language", "es", "--country", "mx",
                                 "cuatro"))
    assert (result["intent"], result["rating"]) == ("rating", 4)


def test_jsonl_reads_one_object_a_line_and_prints_one_result_a_line():
    lines = "\n".join(json.dumps(r) for r in [
        {"text": "STOP"}, {"text": "5", "context": "scale"},
        {"text": "me quiero morir", "language": "es", "country": "ES"}]) + "\n"
    results = [json.loads(line) for line in classify("--jsonl", stdin=lines).splitlines()]
    assert [r["intent"] for r in results] == ["stop", "rating", "answer"]
    assert results[2]["risk"] == "urgent" and all(list(r) == FIELDS for r in results)


@pytest.mark.parametrize("args, stdin, message", [
    (["--context", "later", "hi"], None, "scale, text, none"),
    (["--language", "fr", "hi"], None, "en, es"),
    (["--country", "USA", "hi"], None, "two-letter"),
    ([], None, "give the reply"),
    (["--jsonl"], "{not json\n", "line 1 is not JSON"),
    (["--jsonl"], '{"text": "ok"}\n{"words": "x"}\n', "line 2 has no"),
    (["--jsonl"], '{"text": "ok", "context": "soon"}\n', "line 1: context"),
])
def test_errors_say_what_to_do_and_exit_2(args, stdin, message):
    assert message in classify(*args, stdin=stdin, code=2)


def test_a_bad_line_is_named_without_its_words():
    output = classify("--jsonl", stdin="my partner lies to me about money\n", code=2)
    assert "lies" not in output
