"""Rendering admin-authored templates: sandboxed, strict, compiled once and cached.

Templates get plain data only. A step template defines the blocks ``sms``, ``subject`` and
``email`` (Markdown); the renderer appends the check-in question and turns the Markdown into a
text part and an HTML part.

Discreet delivery (``discreet=True``) keeps the topic off a lock screen: the optional blocks
``sms_discreet`` and ``subject_discreet`` replace ``sms`` and ``subject`` when a template has
them; otherwise the subject is neutral and the SMS starts with a neutral line and a blank one.
"""

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt

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
def sandbox() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


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
    """The text of each block; the discreet ones only when asked for and present."""
    missing = [block for block in BLOCKS if block not in template.blocks]
    if missing:
        raise ValueError(f"template has no block {', '.join(missing)}")
    context = template.new_context(variables)
    extra = [block for block in DISCREET_BLOCKS if discreet and block in template.blocks]
    return {name: "".join(template.blocks[name](context)).strip() for name in (*BLOCKS, *extra)}


def render_step(step: dict[str, Any], variables: dict[str, Any], repeat: bool = False,
                discreet: bool = False) -> Rendered:
    template = compile_step(step["source"], step["template"])
    blocks = render_blocks(template, {**variables, "week": step["week"]}, discreet)
    return _assemble(blocks, step.get("checkin"), repeat, discreet)


def render_message(name: str, variables: dict[str, Any], discreet: bool = False) -> Rendered:
    """System messages (acknowledgements, help, notices) from templates/messages/."""
    template = _messages().get_template(f"{name}.j2")
    return _assemble(render_blocks(template, variables, discreet), None, False, discreet)


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
    return Rendered(sms, subject, email)


@lru_cache
def _messages() -> Environment:
    folder = PROJECT_ROOT / "templates" / "messages"
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, autoescape=False
    )


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
