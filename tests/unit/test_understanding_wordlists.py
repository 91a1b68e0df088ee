"""Layer 2: every pattern of every word list matches its examples, and only them."""

import pytest

from coach.inbound.understanding.normalise import normalise
from coach.inbound.understanding.wordlists import LANGUAGES, LEVELS, word_list

PATTERNS = [p for lang in LANGUAGES for p in word_list(lang).patterns()]
CATEGORIES = {"suicide_self_harm", "partner_violence", "sexual_coercion", "stalking_fear", "other"}


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: f"{p.language}/{p.name}")
def test_each_pattern_matches_its_examples_and_not_its_counter_examples(pattern):
    assert pattern.must_match and pattern.must_not_match, "give examples both ways"
    missed = [e for e in pattern.must_match if not pattern.search(normalise(e))]
    wrong = [e for e in pattern.must_not_match if pattern.search(normalise(e))]
    assert not missed, f"should match: {missed}"
    assert not wrong, f"should not match: {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_risk_patterns_name_a_level_a_category_and_a_reason(language):
    for pattern in word_list(language).risk:
        assert pattern.level in LEVELS and pattern.level != "none", pattern.name
        assert pattern.category in CATEGORIES, pattern.name
        assert pattern.reason, pattern.name


@pytest.mark.parametrize("language", LANGUAGES)
def test_commands_name_a_known_intent(language):
    intents = {"stop", "start", "help", "pause", "resume", "slower", "ready"}
    assert {p.intent for p in word_list(language).commands} == intents


def test_names_are_unique_within_a_language():
    for language in LANGUAGES:
        names = [p.name for p in word_list(language).patterns()]
        assert len(names) == len(set(names))
