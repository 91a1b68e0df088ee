"""Rendering admin-authored templates: sandboxed, strict, compiled once and cached.

Templates get plain data only. A step template defines the blocks ``sms``, ``subject`` and
``email`` (Markdown); the renderer appends the check-in question and turns the Markdown into a
text part and an HTML part.

Discreet delivery (``discreet=True``) keeps the topic off a lock screen: the optional blocks
``sms_discreet`` and ``subject_discreet`` replace ``sms`` and ``subject`` when a template has
them; otherwise the subject is neutral and the SMS starts with a neutral line and a blank one.
"""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape
from jinja2.runtime import Context
from markdown_it import MarkdownIt

from coach.programmes.limits import (
    MAX_EMAIL_CHARS,
    MAX_SMS_SEGMENTS_SENT,
    MAX_SUBJECT_CHARS,
    RenderBudgetExceeded,
    TemplateFailed,
    TemplateProblem,
    budget,
)
from coach.programmes.sandbox import MARKDOWN_CONTEXT, BudgetedSandbox, bounded_join
from coach.settings import PROJECT_ROOT

BLOCKS = ("sms", "subject", "email")
DISCREET_BLOCKS = ("sms_discreet", "subject_discreet")
REPEAT_OPENER = "Once more, no hurry: "
NEUTRAL_SUBJECT = "A note from coach"
# Short, because every character counts toward the SMS's segments (the validator counts it).
NEUTRAL_OPENER = "From coach.\n\n"
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
SMS_TOO_LONG = f"SMS over {MAX_SMS_SEGMENTS_SENT} segments"
# Output of each block is cut off as soon as it is certainly over its channel's budget.
BLOCK_BUDGETS = {
    "sms": (MAX_SMS_SEGMENTS_SENT * 153, SMS_TOO_LONG),
    "sms_discreet": (MAX_SMS_SEGMENTS_SENT * 153, SMS_TOO_LONG),
    "subject": (MAX_SUBJECT_CHARS, f"subject over {MAX_SUBJECT_CHARS} characters"),
    "subject_discreet": (MAX_SUBJECT_CHARS, f"subject over {MAX_SUBJECT_CHARS} characters"),
    "email": (MAX_EMAIL_CHARS, f"email over {MAX_EMAIL_CHARS} characters"),
}


@dataclass
class Rendered:
    sms: str
    subject: str
    text: str  # the email body in Markdown, which reads well as plain text

    @cached_property
    def html(self) -> str:
        """Only emails need it, so SMS never pays for the Markdown conversion."""
        return markdown_to_html(self.text)


@lru_cache
def sandbox() -> BudgetedSandbox:
    return BudgetedSandbox()


@lru_cache(maxsize=4096)
def compile_step(source: str, name: str) -> Template:
    """Compile once per distinct source: versions are immutable, so the source is the key.

    ``name`` becomes the template's file name, so errors point at the admin's file and line.
    """
    environment = sandbox()
    code = environment.compile(source, name=name, filename=name)
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


def render_blocks(
    template: Template, variables: dict[str, Any], discreet: bool = False
) -> dict[str, str]:
    """The text of each block; the discreet ones only when asked for and present.

    While the email block renders, every {{ }} output is Markdown-escaped: people's words
    (names, answers) stay words, while the admin's own Markdown is left as is.
    """
    missing = [block for block in BLOCKS if block not in template.blocks]
    if missing:
        raise ValueError(f"template has no block {', '.join(missing)}")
    context = template.new_context(variables)
    extra = [block for block in DISCREET_BLOCKS if discreet and block in template.blocks]
    return {name: _block_text(template, name, context) for name in (*BLOCKS, *extra)}


def _block_text(template: Template, name: str, context: Context) -> str:
    limit, what = BLOCK_BUDGETS[name]
    context.vars[MARKDOWN_CONTEXT] = name == "email"  # one context, cheaper than two
    try:
        return bounded_join(template.blocks[name](context), limit, what).strip()
    except RenderBudgetExceeded as error:
        error.block = error.block or name
        raise
    finally:
        context.vars[MARKDOWN_CONTEXT] = False


def render_step(step: dict[str, Any], variables: dict[str, Any], repeat: bool = False,
                discreet: bool = False) -> Rendered:
    """Raises :class:`TemplateProblem` (its message names the step, never the words)."""
    label, source = f"step {step['key']}", step["source"]
    if source in _too_slow:
        raise _too_slow[source].named(label, _too_slow[source].line)
    template = compile_step(source, step["template"])
    try:
        with named_problems(label, template):
            blocks = render_blocks(template, {**variables, "week": step["week"]}, discreet)
            return _assemble(blocks, step.get("checkin"), repeat, discreet)
    except RenderBudgetExceeded as problem:
        if problem.kind == "time":
            _remember_too_slow(source, problem)
        raise


# Steps that broke the time budget fail at once from then on: a batch of enrolments on one
# slow step must not cost the sweep a full budget each. Versions are immutable, so a fix is
# a new source.
_too_slow: dict[str, RenderBudgetExceeded] = {}


def _remember_too_slow(source: str, problem: RenderBudgetExceeded) -> None:
    if len(_too_slow) >= 256:
        _too_slow.clear()
    _too_slow[source] = problem


def render_message(name: str, variables: dict[str, Any], discreet: bool = False,
                   language: str = "en") -> Rendered:
    """System messages (acknowledgements, help, notices) from templates/messages/, in the
    person's language where it has them (``es/NAME.j2``), else in English."""
    names = [f"{language}/{name}.j2", f"{name}.j2"] if language != "en" else [f"{name}.j2"]
    template = _messages().select_template(names)
    with named_problems(f"message {name}", template):
        return _assemble(render_blocks(template, variables, discreet), None, False, discreet)


@contextmanager
def named_problems(label: str, template: Template) -> Iterator[None]:
    """One render under a fresh budget; whatever fails becomes a :class:`TemplateProblem`
    that says where, with the original kept aside (its text may hold people's words)."""
    try:
        with budget():
            yield
    except TemplateProblem as problem:
        raise problem.named(label, template_line(problem, template)) from None
    except Exception as error:  # the template is untrusted code: anything can come out of it
        line = template_line(error, template)
        where = f"{template.filename}:{line}" if line else str(template.filename)
        raise TemplateFailed(label, where, error, line) from None


def template_line(error: BaseException, template: Template) -> int | None:
    """Map the failing frame of compiled template code back to the template's own line."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == template.filename and frame.lineno]
    return template.get_corresponding_lineno(lines[-1]) if lines else None


def _assemble(blocks: dict[str, str], question: str | None, repeat: bool,
              discreet: bool) -> Rendered:
    own_sms = blocks.get("sms_discreet", "")  # present only when rendering discreetly
    sms, email = own_sms or blocks["sms"], blocks["email"]
    if question:
        sms, email = f"{sms}\n\n{question}", f"{email}\n\n**{question}**"
    if repeat:
        sms = REPEAT_OPENER + sms
    if discreet and not own_sms:
        sms = NEUTRAL_OPENER + sms
    subject = (blocks.get("subject_discreet") or NEUTRAL_SUBJECT) if discreet else blocks["subject"]
    _check_sizes(sms, email, "sms_discreet" if own_sms else "sms")
    return Rendered(sms, subject, email)


def _check_sizes(sms: str, email: str, sms_block: str) -> None:
    # Counting segments walks every character: only worth it when the text could be over.
    could_be_over = 2 * len(sms) > MAX_SMS_SEGMENTS_SENT * 67
    if could_be_over and sms_segments(sms)[0] > MAX_SMS_SEGMENTS_SENT:
        raise RenderBudgetExceeded("size", SMS_TOO_LONG, block=sms_block)
    if len(email) > MAX_EMAIL_CHARS:
        raise RenderBudgetExceeded("size", BLOCK_BUDGETS["email"][1], block="email")


@lru_cache
def _messages() -> Environment:
    return BudgetedSandbox(loader=FileSystemLoader(PROJECT_ROOT / "templates" / "messages"))


@lru_cache
def _markdown() -> MarkdownIt:
    # html off: admin text and people's own words never become markup.
    return MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown_to_html(markdown: str) -> str:
    return _email_layout().render(body=_markdown().render(markdown))


@lru_cache
def _email_layout() -> Template:
    environment = Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates" / "email"),
        autoescape=select_autoescape(default=True),
    )
    return environment.get_template("layout.html.j2")


def sms_segments(text: str) -> tuple[int, str]:
    """How many SMS segments a text needs, and its encoding (GSM-7 or UCS-2)."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return (1 if units <= 160 else -(-units // 153)), "GSM-7"
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return (1 if units <= 70 else -(-units // 67)), "UCS-2"
