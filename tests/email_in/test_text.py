"""The person's own words from a mail body: quoted text, reply headers and signatures go,
in the shapes common mail clients write them."""

import pytest

from coach.inbound.email_text import html_to_text, strip_quoted


@pytest.mark.parametrize(("body", "words"), [
    ("Slowly getting there.\n\nBest regards,\nSam\n", "Slowly getting there."),
    ("2\n\nGet Outlook for iOS\n", "2"),
    ("Hard week.\n\n________________________________\nFrom: coach <coach@coach.example>\n"
     "Sent: Monday, March 9, 2026 6:30 PM\nSubject: How did it go?\n\nHow did it go?\n",
     "Hard week."),
    ("Es war schwer.\n\nAm Mo., 9. März 2026 um 18:30 Uhr schrieb coach <coach@coach.example>:"
     "\n> Wie war es?\n", "Es war schwer."),
    ("> only the quote\n> nothing new\n", ""),
], ids=["sign-off", "mobile signature", "outlook header", "german client", "nothing new"])
def test_only_the_new_words_are_kept(body: str, words: str) -> None:
    assert strip_quoted(body) == words


def test_html_becomes_lines_of_text() -> None:
    html = "<p>One</p><p>Two &amp; <i>three</i><br>four</p><script>x()</script>"
    assert html_to_text(html) == "One\n\nTwo & three\nfour"


def test_long_lines_are_kept_whole_and_the_quote_still_goes() -> None:
    """Lines longer than the reply parser can take in reasonable time pass it by, unchanged."""
    long = ("I wrote a lot without pressing enter, " * 40).strip()
    body = f"{long}\n\nshort\n\nOn Mon, 9 Mar 2026 at 18:30, coach wrote:\n> {long}\n"
    assert strip_quoted(body) == f"{long}\n\nshort"
    assert strip_quoted("On " * 20_000) == ("On " * 20_000).strip()
    assert strip_quoted("keep\x00this") == "keepthis"
