"""The sandbox admin templates run in: Jinja's immutable sandbox, strict about undefined names,
with a budget on time and size, attributes of plain data limited to a list, templates that
stand alone (no include, import or extends), and Markdown-escaped output in the email body.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

from coach.programmes.filters import bounded_filters, refuse_wide_printf
from coach.programmes.limits import (
    MAX_INT_BITS,
    MAX_ITERATIONS,
    MAX_VALUE_CHARS,
    RenderBudgetExceeded,
    built,
    current,
    refuse_big_number,
    refuse_over,
    size_of,
)

# Set in the context that renders the email block: its {{ }} output is Markdown-escaped.
# Not a name a template can assign.
MARKDOWN_CONTEXT = "coach:markdown"
ITERATION_FILTER = "coach_budgeted_loop"
# CommonMark lets any ASCII punctuation be backslash-escaped; escaping all of it is simplest.
MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Attributes of plain data a template may use. Methods that build text of a chosen length
# (center, ljust, zfill, join, replace, expandtabs) have bounded filters instead.
PLAIN_DATA_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: frozenset({
        "capitalize", "casefold", "count", "endswith", "find", "format", "format_map", "index",
        "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit",
        "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    }),
    bool: frozenset(),
    int: frozenset({"bit_length", "denominator", "imag", "numerator", "real"}),
    float: frozenset({"imag", "is_integer", "real"}),
    dict: frozenset({"copy", "get", "items", "keys", "values"}),
    list: frozenset({"copy", "count", "index"}),
    tuple: frozenset({"count", "index"}),
}
CAPTURED_TOO_LONG = f"a captured block over {MAX_VALUE_CHARS} characters"
STANDS_ALONE = (
    "a step template stands alone: {tag} is not available; put the text in this template"
)


class TrustedMarkdown(str):
    """Markdown coach itself wrote, such as a link it signed: output as is in the email block.
    Only code makes one; people's words and a template's values are always plain str."""

    __slots__ = ()


def markdown_link(url: str) -> TrustedMarkdown:
    """A URL as a CommonMark autolink: a link in the HTML part, ``<url>`` in the text part."""
    if any(c in url for c in "<> \n\r\t"):
        raise ValueError("a link must be a URL without spaces or angle brackets")
    return TrustedMarkdown(f"<{url}>")


def markdown_escape(text: str) -> str:
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


@pass_context
def finalize(context: Context, value: Any) -> Any:
    """Every {{ }} output: charged, and Markdown-escaped in the email block."""
    if context.get(MARKDOWN_CONTEXT) and not isinstance(value, TrustedMarkdown):
        value = markdown_escape(str(value))
    return built(value)


def budgeted_range(*args: int) -> range:
    numbers = range(*args)
    try:
        too_many = len(numbers) > MAX_ITERATIONS
    except OverflowError:
        too_many = True
    if too_many:
        raise RenderBudgetExceeded("time", f"a range over {MAX_ITERATIONS} numbers")
    return numbers


def budgeted_loop(iterable: Iterable[Any]) -> Iterable[Any]:
    spent = current()
    return iterable if spent is None else _ticking(iterable)


def _ticking(iterable: Iterable[Any]) -> Iterator[Any]:
    spent = current()
    for item in iterable:
        if spent is not None:
            spent.tick()
        yield item


def bounded_join(parts: Iterable[str], limit: int, too_long: str) -> str:
    """Join rendered output, stopping as soon as it is longer than ``limit``."""
    kept, length = [], 0
    for part in parts:
        length += len(part)
        if length > limit:
            raise RenderBudgetExceeded("size", too_long)
        kept.append(part)
    return "".join(kept)


class BudgetedCodeGenerator(CodeGenerator):
    """Every for loop counts its turns; every ``~`` is charged; templates stand alone."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in list(node.find_all(nodes.For)):
            loop.iter = nodes.Filter(loop.iter, ITERATION_FILTER, [], [], None, None,
                                     lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.built(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_Extends(self, node: nodes.Extends, frame: Frame) -> None:
        self.fail(STANDS_ALONE.format(tag="{% extends %}"), node.lineno)

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:
        self.fail(STANDS_ALONE.format(tag="{% include %}"), node.lineno)

    def visit_Import(self, node: nodes.Import, frame: Frame) -> None:
        self.fail(STANDS_ALONE.format(tag="{% import %}"), node.lineno)

    def visit_FromImport(self, node: nodes.FromImport, frame: Frame) -> None:
        self.fail(STANDS_ALONE.format(tag="{% from ... import %}"), node.lineno)


class BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        refuse_big_number(*(int(n) for n in re.findall(r"\d+", format_spec)))
        return built(super().format_field(value, format_spec))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The environment for programme steps and system messages (see the module docstring)."""

    code_generator_class = BudgetedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    built = staticmethod(built)

    def __init__(self, **options: Any) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, finalize=finalize,
                         **options)
        self.filters = {**bounded_filters(), ITERATION_FILTER: budgeted_loop}
        self.globals["range"] = budgeted_range
        del self.globals["lipsum"]  # paragraphs of any number on request

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        """Captured output ({% set %} blocks, macros, filter blocks)."""
        return bounded_join(parts, MAX_VALUE_CHARS, CAPTURED_TOO_LONG)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        for kind, allowed in PLAIN_DATA_ATTRIBUTES.items():
            if isinstance(obj, kind):
                return attr in allowed
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        refuse_before_binop(operator, left, right)
        return built(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        spent = current()
        if spent is not None:
            spent.check_clock()
        return built(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Any:
        """``str.format`` through a formatter that refuses ``{:>1000000000}``."""
        if super().wrap_str_format(value) is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"
        formatter = BoundedFormatter(self)

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                return str(formatter.vformat(text, (), args[0]))
            return str(formatter.vformat(text, args, kwargs))

        return bounded_format


def refuse_before_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse what would be too big before Python builds it."""
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            _refuse_big_int(left.bit_length() + right.bit_length())
        elif isinstance(right, int) and size_of(left):
            refuse_over(size_of(left) * right)
        elif isinstance(left, int) and size_of(right):
            refuse_over(size_of(right) * left)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1:
            _refuse_big_int(left.bit_length() * right)
    elif operator == "%" and isinstance(left, str):
        refuse_wide_printf(left, right)
    elif operator == "+":
        refuse_over(size_of(left) + size_of(right))


def _refuse_big_int(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise RenderBudgetExceeded("size", f"a number over {MAX_INT_BITS} bits")
