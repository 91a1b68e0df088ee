"""A fuzz target for the inbound email parser: whatever the bytes, :func:`understand` returns
:class:`Understood` or :class:`Unreadable` and never raises.

Run it standalone for as long as you like (crashes are written to the current folder):

    .venv/bin/python tests/fuzz/fuzz_email.py -max_total_time=600

``tests/security/test_email_fuzz.py`` runs it for a bounded time in CI. No database is needed:
understanding a message is pure; only acting on it touches the database.
"""

import sys

import atheris
import sqlalchemy  # noqa: F401  (imported before instrumenting: it is not what we fuzz)

with atheris.instrument_imports(include=["email", "coach.inbound", "mailparser_reply"]):
    from coach.inbound.email_in import MAX_REPLY_CHARS, Understood, Unreadable, understand

AUTHSERV_ID = "mx.coach.example"
# Half the inputs get a plausible head, so the fuzzer reaches the body parsers sooner.
HEAD = (b"Authentication-Results: mx.coach.example; dmarc=pass header.from=example.org\r\n"
        b"From: Sam <sam@example.org>\r\nTo: reply+1-0123456789abcdef@coach.example\r\n"
        b"Message-ID: <fuzz@example.org>\r\nContent-Type: multipart/mixed; boundary=b\r\n")


def test_one(data: bytes) -> None:
    raw = HEAD + data[1:] if data[:1] in (b"\x00", b"-", b"C") else data
    result = understand(raw, AUTHSERV_ID)
    if not isinstance(result, Understood | Unreadable):
        raise AssertionError(f"understand returned a {type(result).__name__}")
    if isinstance(result, Understood) and len(result.text) > MAX_REPLY_CHARS:
        raise AssertionError("the reply text is longer than the cap")


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
