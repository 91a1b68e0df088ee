"""Admin-authored templates are untrusted code (DESIGN invariant 6): every way out is refused.

Each attempt is rendered as a step; it must fail as a template problem (never run, never print
Python internals), and the validator must report it at its file and line.
"""

from pathlib import Path

import pytest

from coach.programmes.limits import TemplateProblem
from coach.programmes.render import render_step
from coach.programmes.validate import validate_folder
from tests.security.templates import VARIABLES, programme_with, step

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.environment }}",
    "{{ range.__self__ }}",
    "{{ range.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ '{0.__class__.__mro__}'.format_map({'0': name}) }}",
    "{{ '{x.__class__}'.format(x=answers) }}",
    "{{ name|attr('__class__') }}",
    "{{ (name|attr('__class__')).__mro__ }}",
    "{{ answers|attr('update') }}",
    "{{ answers.update({'a': 1}) }}",
    "{{ answers.pop('a') }}",
    "{{ other_qualities.append(1) }}",
    "{{ other_qualities.clear() }}",
    "{{ name.__len__() }}",
    "{{ name['__class__'] }}",
    "{{ (1).to_bytes(8, 'big') }}",
    "{{ name.center(20) }}",
    "{{ name.ljust(20) }}",
    "{{ name.zfill(20) }}",
    "{{ ','.join(other_qualities) }}",
    "{{ name.replace('a', 'b') }}",
    "{{ name.encode() }}",
    "{{ loop.__class__ }}",
    "{{ dict.__mro__ }}",
    "{{ config }}",
    "{{ request }}",
    "{{ lipsum() }}",
    "{{ context }}",
    "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ (answers.items|list) }}{{ answers.items.__self__ }}",
    "{{ name.upper.__self__.__class__ }}",
    "{% set f = name.format %}{{ f.__self__ }}",
    "{{ '%(a)s'|format(a=name.__class__) }}",
]


@pytest.mark.parametrize("attempt", ESCAPES)
def test_an_escape_attempt_is_refused(attempt: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_step(step(email=f"Hi.\n{attempt}\n"), VARIABLES)
    message = str(caught.value)
    assert "step probe" in message
    assert "<class" not in message and "__globals__" not in message


@pytest.mark.parametrize("attempt", ESCAPES)
def test_the_validator_reports_an_escape_attempt_at_its_line(attempt: str, tmp_path: Path) -> None:
    folder = programme_with(tmp_path, email=f"Hi.\n\n{attempt}\n")
    problems = validate_folder(folder).problems
    assert problems, attempt
    assert all(p.file.endswith("steps/probe.j2") for p in problems)
    assert {p.line for p in problems} == {6}, [str(p) for p in problems]


@pytest.mark.parametrize("kept", [
    "{{ name.upper() }} {{ name.title() }} {{ name.strip() }} {{ name.split()|join(' ') }}",
    "{{ answers.get('a', 'none') }} {{ answers.items()|list|length }} {{ answers.keys()|list }}",
    "{{ '{} and {}'.format(name, week) }} {{ '%s!'|format(name) }}",
    "{{ other_qualities|join(', ') }} {{ name|replace('a', 'b') }} {{ name|center(20) }}",
    "{% for q in other_qualities %}{{ loop.index }}. {{ q }} {% endfor %}",
    "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}"
    "{{ ns.n }}",
    "{% macro line(x) %}- {{ x }}{% endmacro %}{{ line(name) }}",
    "{{ (week * 2) ** 2 }} {{ 10 // 3 }} {{ '%d%%'|format(50) }} {{ name ~ '!' }}",
    "{{ name|wordwrap(10) }} {{ name|indent(2) }} {{ name|truncate(5) }}",
    "{{ [1, 2, 3]|batch(2)|list }} {{ [1, 2, 3]|slice(2)|list }} {{ [1, 2]|sum }}",
])
def test_what_authors_use_still_works(kept: str) -> None:
    rendered = render_step(step(email=kept), VARIABLES)
    assert rendered.text
