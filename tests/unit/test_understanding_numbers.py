"""Ratings in digits, words and emoji; pause lengths in words."""

import pytest

from coach.inbound.understanding import understand
from coach.inbound.understanding.normalise import normalise
from coach.inbound.understanding.numbers import days_in, rating_in


@pytest.mark.parametrize("text, value", [
    ("4", 4), ("four", 4), ("a solid 4", 4), ("id give it a 2", 2), ("I'd give it a 2", 2),
    ("3, hard but worth it", 3), ("cinco", 5), ("le doy un 3", 3), ("un cuatro", 4),
    ("😭", 1), ("👎", 1), ("😕", 2), ("🤷", 3), ("👍", 4), ("🎉", 5), ("❤️❤️", 5),
])
def test_ratings_in_a_check_in(text, value):
    assert rating_in(normalise(text), "scale") == value


@pytest.mark.parametrize("text", ["4 out of 5", "4/5 this week", "4 de 5"])
def test_an_explicit_rating_counts_in_any_context(text):
    assert rating_in(normalise(text), "none") == 4


@pytest.mark.parametrize("text, context", [
    ("4", "none"), ("👍", "text"), ("love it 👍", "scale"), ("3 days in a row", "scale"),
    ("9", "scale"),
])
def test_not_a_rating(text, context):
    assert rating_in(normalise(text), context) is None


@pytest.mark.parametrize("text, days", [
    ("pause 2 weeks", 14), ("pause for two weeks", 14), ("pause for a month", 30),
    ("until next week", 7), ("a fortnight off", 14), ("pause 10 days", 10),
    ("the weekend", 2), ("pausa dos semanas", 14), ("un mes", 30),
    ("hasta la semana que viene", 7), ("el finde", 2), ("pause 3", 3),
    ("pause for two months", 60),
])
def test_pause_lengths(text, days):
    assert days_in(normalise(text)) == days


@pytest.mark.parametrize("text", ["pause", "pause for a bit", "till after the holidays"])
def test_no_fixed_length(text):
    assert days_in(normalise(text)) is None


def test_a_pause_carries_its_days_and_a_rating_its_value():
    assert (understand("pause 2 weeks please").intent, understand("pause 2 weeks").days) == (
        "pause", 14)
    scale = understand("a solid four", context="scale")
    assert (scale.intent, scale.rating) == ("rating", 4)
