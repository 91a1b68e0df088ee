"""Concepts: word lists written once over many phrasings, and what the classifier reads.
Examples written here, never taken from the corpus's dev or test split."""

import re

import pytest

from coach.inbound.understanding.concepts import concept_features, expand
from coach.inbound.understanding.normalise import normalise, plain_words


def concepts(text: str) -> set[str]:
    return concept_features(plain_words(normalise(text)))


def test_one_concept_pair_covers_phrasings_no_list_names():
    for text in ("i am planning to take my own life", "ready to not wake up", "wanna end it all"):
        assert "k2:want>die" in concepts(text), text
    for text in ("my fiance strangled me", "she kicks me", "mi novio me cachetea"):
        assert {"k2:partner>violent", "k:self"} <= concepts(text), text


def test_idioms_and_laughter_are_concepts_too():
    assert {"k:idiom", "k:laugh"} <= concepts("this killed me lol")
    assert "k:idiom" in concepts("me muero de risa")


def test_stems_match_any_ending():
    assert "k:violent" in concepts("he strangled me")
    assert "k:violent" in concepts("he was strangling me")


def test_a_pattern_over_concepts_expands_to_one_regular_expression():
    regex = re.compile(expand(r"\b@partner @violent me\b", "en"))
    assert regex.search(normalise("my husband slapped me"))
    assert not regex.search(normalise("my husband made me tea"))
    regex = re.compile(expand(r"\bme @violent\b", "es"))
    assert regex.search(normalise("me golpeó"))


def test_an_unknown_concept_names_itself():
    with pytest.raises(KeyError, match="@nothing"):
        expand(r"\b@nothing\b", "en")


def test_a_concept_as_a_trie_matches_exactly_what_its_plain_alternation_matches():
    import re

    from coach.inbound.understanding.concepts import trie_regex

    entries = ["strangl*", "strike", "struck", "hit", "hits", "hitting", "hit on me", "choke*",
               "a", "ab*"]
    plain = re.compile("(?:" + "|".join(
        re.escape(e[:-1]) + r"\w*" if e.endswith("*") else re.escape(e) for e in entries) + ")")
    trie = re.compile(trie_regex(entries))
    words = ["strangled", "strangl", "strike", "strikes", "struck", "str", "hit", "hits",
             "hitting", "hitt", "hit on me", "hit on", "choked", "chok", "a", "ab", "abc", "b",
             ""]
    for word in words:
        assert bool(trie.fullmatch(word)) == bool(plain.fullmatch(word)), word
