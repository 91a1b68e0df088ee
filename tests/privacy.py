"""A guard over the whole suite: people's words never reach a log line.

Tests that need a reply a person might write use :data:`MARKER` in it. Every log record made
during any test, at INFO and above as production workers log, is checked for it, with its
exception text; a test whose code logged the marker fails at teardown and says where.
"""

import logging
import traceback
from collections.abc import Iterator

import pytest

# Words a person might write in a reply, unlike anything coach itself says.
MARKER = "my partner lies to me about money"


class WordsInLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string is its own bug, not a leak
            text = str(record.msg)
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if MARKER.casefold() in text.casefold():
            self.leaks.append(f"{record.name}:{record.lineno} ({record.levelname})")


@pytest.fixture(autouse=True)
def no_words_in_logs() -> Iterator[None]:
    root = logging.getLogger()
    guard, level = WordsInLogs(), root.level
    root.addHandler(guard)
    if level > logging.INFO or level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(guard)
        root.setLevel(level)
    if guard.leaks:
        pytest.fail("a person's words reached a log line at " + ", ".join(guard.leaks),
                    pytrace=False)
