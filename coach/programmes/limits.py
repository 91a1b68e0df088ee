"""How much one render of an admin's template may cost, and the errors when it costs more.

A render gets a :class:`Budget` (a deadline, loop iterations, characters built); the sandbox
charges it as the template runs. Every error raised here names a rule and a number, never the
text being rendered, so it can be logged and stored in an event as it is.
"""

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# One step, every block; a normal step takes well under a millisecond. Counted in this
# thread's CPU time, not on the wall clock: a busy machine must not fail a good template.
RENDER_SECONDS = 0.5
MAX_ITERATIONS = 100_000  # loop turns per render, all loops together
MAX_VALUE_CHARS = 100_000  # one string or list made by the template
MAX_BUILT_CHARS = 1_000_000  # everything made by the template in one render
MAX_INT_BITS = 4096  # numbers beyond ~1200 digits have no place in a message
# What is sent: far above what the validator allows (2 segments), far below what hurts.
MAX_SMS_SEGMENTS_SENT = 10
MAX_EMAIL_CHARS = 100_000  # of Markdown
MAX_SUBJECT_CHARS = 500
DEADLINE_EVERY = 16  # loop turns between clock readings: the clock is the costly part


class TemplateProblem(Exception):
    """A template could not be rendered. The message names the step and the rule only."""

    line: int | None = None  # in the template, when the failing code is known

    def named(self, label: str, line: int | None) -> "TemplateProblem":
        return self


class RenderBudgetExceeded(TemplateProblem):
    def __init__(self, kind: str, detail: str, label: str = "the template",
                 block: str | None = None, line: int | None = None):
        self.kind, self.detail, self.label, self.block, self.line = kind, detail, label, block, line
        super().__init__(f"{label} broke its {kind} budget ({detail})")

    def named(self, label: str, line: int | None) -> "RenderBudgetExceeded":
        return RenderBudgetExceeded(self.kind, self.detail, label, self.block, line)


class TemplateFailed(TemplateProblem):
    """Any other failure. ``original`` keeps the exception, whose text may hold people's words:
    validation, which renders sample data, reads it; nothing else should."""

    def __init__(self, label: str, where: str, original: BaseException, line: int | None):
        self.original, self.line = original, line
        super().__init__(f"{label} failed at {where} ({type(original).__name__})")


class GarbageCollection:
    """CPU time the collector has spent, so a render is not charged for it: a full collection
    in a large process can take longer than the whole budget, and fail a good template."""

    spent: float = 0.0
    _started: float | None = None

    @classmethod
    def callback(cls, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            cls._started = time.thread_time()
        elif cls._started is not None:
            cls.spent += time.thread_time() - cls._started
            cls._started = None


gc.callbacks.append(GarbageCollection.callback)


def _deadline() -> float:
    return time.thread_time() + RENDER_SECONDS


@dataclass
class Budget:
    deadline: float = field(default_factory=_deadline)
    iterations: int = 0
    built: int = 0
    collected_before: float = field(default_factory=lambda: GarbageCollection.spent)

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise RenderBudgetExceeded("time", f"loops over {MAX_ITERATIONS} turns")
        if self.iterations % DEADLINE_EVERY == 0:
            self.check_clock()

    def check_clock(self) -> None:
        collecting = GarbageCollection.spent - self.collected_before
        if time.thread_time() - collecting > self.deadline:
            raise RenderBudgetExceeded("time", f"over {RENDER_SECONDS} s of rendering")

    def charge(self, chars: int) -> None:
        self.built += chars
        if self.built > MAX_BUILT_CHARS:
            raise RenderBudgetExceeded("size", f"over {MAX_BUILT_CHARS} characters built")


_current: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """A fresh budget for the renders inside the block."""
    spent = Budget()
    token = _current.set(spent)
    try:
        yield spent
    finally:
        _current.reset(token)


def current() -> Budget | None:
    """None when no render is running (Jinja folds constants while compiling)."""
    return _current.get()


def size_of(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def built(value: Any) -> Any:
    """Check and charge a value the template made; returns it."""
    size = size_of(value)
    if size > MAX_VALUE_CHARS:
        raise RenderBudgetExceeded("size", f"a value over {MAX_VALUE_CHARS} characters or items")
    spent = current()
    if spent is not None:
        spent.charge(size)
        spent.check_clock()
    return value


def refuse_over(size: int, what: str = "a value") -> None:
    """Before building something of ``size``: refuse it rather than build it."""
    if size > MAX_VALUE_CHARS:
        raise RenderBudgetExceeded("size", f"{what} over {MAX_VALUE_CHARS} characters or items")


def refuse_big_number(*numbers: Any) -> None:
    if any(isinstance(n, int) and abs(n) > MAX_VALUE_CHARS for n in numbers):
        raise RenderBudgetExceeded("size", f"a width or count over {MAX_VALUE_CHARS}")
