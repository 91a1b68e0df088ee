"""The suite-wide guard (tests/privacy.py) must itself catch a leak, or it proves nothing."""

import logging

import pytest

from tests.privacy import MARKER, WordsInLogs


@pytest.mark.parametrize("how", ["message", "argument", "exception"])
def test_the_guard_sees_words_in_a_message_an_argument_or_an_exception(how):
    guard = WordsInLogs()
    log = logging.getLogger("coach.test-guard")
    log.addHandler(guard)
    log.setLevel(logging.INFO)
    log.propagate = False  # the suite's own guard must not fail this test
    try:
        if how == "message":
            log.info(f"reply: {MARKER}")
        elif how == "argument":
            log.warning("reply: %s", MARKER.upper())
        else:
            try:
                raise KeyError(MARKER)
            except KeyError:
                log.exception("could not plan")
    finally:
        log.removeHandler(guard)
    assert guard.leaks == [f"coach.test-guard:{guard_line(how)} ({level(how)})"]


def guard_line(how: str) -> int:
    import inspect

    source, start = inspect.getsourcelines(
        test_the_guard_sees_words_in_a_message_an_argument_or_an_exception)
    wanted = {"message": "log.info(", "argument": "log.warning(", "exception": "log.exception("}
    return next(start + n for n, line in enumerate(source) if wanted[how] in line)


def level(how: str) -> str:
    return {"message": "INFO", "argument": "WARNING", "exception": "ERROR"}[how]


def test_debug_lines_are_not_what_production_logs():
    guard = WordsInLogs()
    log = logging.getLogger("coach.test-guard-debug")
    log.addHandler(guard)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        log.debug("reply: %s", MARKER)
    finally:
        log.removeHandler(guard)
    assert guard.leaks == []
