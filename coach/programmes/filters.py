"""Jinja's filters, each charged for what it builds, and bounded before building where one call
could build without end (``'x'|center(10**9)``, ``s|replace('', s)``, ``[1]|batch(10**9, 0)``)."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from jinja2 import pass_environment, pass_eval_context
from jinja2.filters import (
    FILTERS,
    do_batch,
    do_center,
    do_format,
    do_indent,
    do_wordwrap,
    make_attrgetter,
    sync_do_join,
    sync_do_slice,
)
from jinja2.nodes import EvalContext

from coach.programmes.limits import built, refuse_big_number, refuse_over

# A printf-style field: flags, then a width and a precision, each a number or '*'.
PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def bounded_filters() -> dict[str, Callable[..., Any]]:
    filters = {**FILTERS, **BOUNDED}
    return {name: charged(f) for name, f in filters.items()}


def charged(f: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(f)  # keeps Jinja's pass_context / pass_environment marker
    def filter_(*args: Any, **kwargs: Any) -> Any:
        return built(f(*args, **kwargs))

    return filter_


def refuse_wide_printf(template: str, values: Any) -> None:
    """``'%1000000000s' % x`` and ``'%*s' % (10**9, x)`` would build a line of that width."""
    for width, precision in PRINTF_FIELD.findall(template):
        if "*" in (width, precision):
            refuse_big_number(*(values if isinstance(values, tuple) else (values,)))
        refuse_big_number(*(int(n) for n in (width, precision) if n.isdigit()))


def center(value: Any, width: int = 80) -> str:
    refuse_big_number(width)
    return do_center(value, width)


def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    per_line = len(width) if isinstance(width, str) else width
    refuse_big_number(per_line)
    refuse_over(len(text) + (text.count("\n") + 1) * per_line, "indented text")
    return do_indent(text, width, first, blank)


@pass_environment
def wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
             wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    text = str(s)
    between = len(wrapstring if wrapstring is not None else environment.newline_sequence)
    refuse_over(len(text) * (1 + between), "wrapped text")
    return do_wordwrap(environment, text, width, break_long_words, wrapstring,
                       break_on_hyphens)


def format_(value: Any, *args: Any, **kwargs: Any) -> str:
    refuse_wide_printf(str(value), tuple(args) or tuple(kwargs.values()))
    return do_format(value, *args, **kwargs)


@pass_eval_context
def replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old, new = str(s), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    refuse_over(len(text) + times * max(0, len(new) - len(old)), "replaced text")
    return text.replace(old, new, -1 if count is None else count)


@pass_eval_context
def join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: str | int | None = None
         ) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    lengths = sum(len(item) if isinstance(item, str) else 24 for item in items)
    refuse_over(lengths + len(str(d)) * max(len(items) - 1, 0), "joined text")
    return sync_do_join(eval_ctx, items, d)


def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    refuse_big_number(linecount)
    return do_batch(value, linecount, fill_with)


def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
    refuse_big_number(slices)
    return sync_do_slice(value, slices, fill_with)


@pass_environment
def sum_(environment: Any, iterable: Any, attribute: str | int | None = None,
         start: Any = 0) -> Any:
    """Numbers only: adding lists or strings one by one takes time that grows as a square."""
    items = list(iterable)
    if attribute is not None:
        items = list(map(make_attrgetter(environment, attribute), items))
    if not all(isinstance(n, int | float) for n in (start, *items)):
        raise TypeError("the sum filter adds numbers only")
    refuse_big_number(len(items))
    return sum(items, start)


BOUNDED: dict[str, Callable[..., Any]] = {
    "center": center, "indent": indent, "wordwrap": wordwrap, "format": format_,
    "replace": replace, "join": join, "batch": batch, "slice": slice_, "sum": sum_,
}
