"""Issue 6, item 12: what used to print a traceback is a problem at its file and line.

Through ``validate_folder`` and through the CLI (``coach programmes validate`` and
``publish``), which print ``file:line: message`` and exit with a code, never a traceback.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coach.cli.main import app
from coach.programmes.validate import validate_folder
from tests.security.templates import PROGRAMME, programme_with

runner = CliRunner()

TEMPLATE_CASES = {
    "include": ("{% include 'other.j2' %}", "include"),
    "import": ("{% import 'macros.j2' as m %}", "import"),
    "from-import": ("{% from 'macros.j2' import m %}", "import"),
    "extends": ("{% extends 'base.j2' %}", "extends"),
    "division by zero": ("{{ 1/0 }}", "division by zero"),
    "recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself"),
    "huge range": ("{{ range(10**9)|list }}", "budget"),
    "huge repeat": ("{{ ('x'~'y') * 100000000 }}", "budget"),
}


@pytest.mark.parametrize("case", sorted(TEMPLATE_CASES))
def test_a_template_problem_is_reported_at_its_line(case: str, tmp_path: Path) -> None:
    text, words = TEMPLATE_CASES[case]
    folder = programme_with(tmp_path, email=f"Hi.\n\n{text}\n")
    problems = validate_folder(folder).problems
    assert [(Path(p.file).name, p.line) for p in problems] == [("probe.j2", 6)], \
        [str(p) for p in problems]
    assert words in problems[0].message


YAML_CASES = {
    "python tag": ("title: !!python/object/apply:os.system ['true']\n", 1, "tag"),
    "python name": ("summary: !!python/name:os.system\n", 3, "tag"),
    "anchor": ("summary: &s Something\n", 3, "anchor"),
    "alias bomb": (
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n", 4, "anchor"),
}


def with_yaml(text: str) -> str:
    lines = PROGRAMME.splitlines(keepends=True)
    if text.startswith("title:"):
        return text + "".join(lines[1:])
    if text.startswith("summary:"):
        return "".join(lines[:2]) + text + "".join(lines[3:])
    return "".join(lines[:3]) + text + "".join(lines[3:])


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_a_yaml_problem_is_reported_at_its_line(case: str, tmp_path: Path) -> None:
    text, line, words = YAML_CASES[case]
    folder = programme_with(tmp_path, with_yaml(text))
    problems = validate_folder(folder).problems
    assert [(Path(p.file).name, p.line) for p in problems[:1]] == [("programme.yaml", line)], \
        [str(p) for p in problems]
    assert words in problems[0].message


@pytest.mark.parametrize("case", ["include", "recursion", "huge repeat"])
def test_validate_prints_file_and_line_not_a_traceback(case: str, tmp_path: Path) -> None:
    folder = programme_with(tmp_path, email=f"Hi.\n\n{TEMPLATE_CASES[case][0]}\n")
    result = runner.invoke(app, ["programmes", "validate", str(folder)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert f"{folder / 'steps' / 'probe.j2'}:6: " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", ["alias bomb", "python tag"])
def test_publish_refuses_yaml_tricks_and_stores_nothing(case: str, tmp_path: Path,
                                                        settings, factory) -> None:
    folder = programme_with(tmp_path, with_yaml(YAML_CASES[case][0]))
    result = runner.invoke(app, ["programmes", "publish", str(folder)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert f"{folder / 'programme.yaml'}:{YAML_CASES[case][1]}: " in result.output
    assert "nothing was published" in result.output


def test_a_template_nested_too_deeply_to_compile(tmp_path: Path) -> None:
    folder = programme_with(tmp_path, email="{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    problems = validate_folder(folder).problems
    assert [(Path(p.file).name, p.line) for p in problems] == [("probe.j2", 1)]
    assert "nests too deeply" in problems[0].message


def test_files_that_are_not_utf8(tmp_path: Path) -> None:
    folder = programme_with(tmp_path)
    (folder / "steps" / "probe.j2").write_bytes(b"{% block sms %}\xff{% endblock %}")
    [problem] = validate_folder(folder).problems
    assert (Path(problem.file).name, problem.line) == ("programme.yaml", 5)
    assert "not UTF-8" in problem.message
    (folder / "programme.yaml").write_bytes(b"title: \xff\n")
    [problem] = validate_folder(folder).problems
    assert (Path(problem.file).name, problem.line) == ("programme.yaml", 1)
