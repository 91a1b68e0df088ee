"""The word lists' prefilters (speed only) never change what a pattern matches.

A prefilter is derived from each pattern when the lists load; a reply that fails it is not
searched. These tests check, for the patterns of the data files as they are now, that every
example a pattern must match passes its prefilter, that over the corpus's train and dev replies
prefiltered and unfiltered matching agree, and, on patterns made up at random, that the
analysis behind the prefilters only ever keeps literals a match needs.
"""

import random
import re

import pytest

from coach.inbound.understanding import prefilter
from coach.inbound.understanding.concepts import expand
from coach.inbound.understanding.corpus import read_split
from coach.inbound.understanding.intent import _without_decoration
from coach.inbound.understanding.normalise import normalise
from coach.inbound.understanding.prefilter import Screen, derive_all, necessary
from coach.inbound.understanding.wordlists import LANGUAGES, matching, word_list

PATTERNS = [p for lang in LANGUAGES for p in word_list(lang).patterns()]
FILTERED = [p for p in PATTERNS if p.prefilter is not None]


def _unfiltered(pattern, text):
    """What the pattern matches without its prefilter."""
    if pattern.guard is not None and pattern.guard.search(text) is None:
        return False
    return pattern.regex.search(text) is not None


@pytest.fixture(scope="module")
def corpus_texts():
    """Train and dev replies as the word lists read them: normalised, and without the emoji
    and kisses a command may carry (what the commands are also tried on)."""
    texts = set()
    for split in ("train", "dev"):
        for row in read_split(split):
            normalised = normalise(row.text)
            texts.update((normalised, _without_decoration(normalised)))
    return sorted(texts)


@pytest.fixture(scope="module")
def unfiltered_matches(corpus_texts):
    """(pattern index, text) for every corpus text each pattern matches without prefilter."""
    return {(i, text) for i, pattern in enumerate(PATTERNS) for text in corpus_texts
            if _unfiltered(pattern, text)}


@pytest.mark.parametrize("pattern", FILTERED, ids=lambda p: f"{p.language}/{p.name}")
def test_every_example_a_pattern_must_match_passes_its_prefilter(pattern):
    for example in pattern.must_match:
        text = normalise(example)
        assert pattern.prefilter.passes_plainly(text), example
        assert pattern.prefilter.passes(text), example
        assert pattern.search(text) == _unfiltered(pattern, text), example


def test_most_patterns_get_a_prefilter_without_hand_maintenance():
    """Derived, never written: if the analysis stopped finding literals, the lists would be
    searched in full again (correct, but slow); this says so."""
    risk = [p for p in PATTERNS if p.level != "none"]
    assert sum(p.prefilter is not None for p in risk) >= 0.8 * len(risk)
    assert sum(p.prefilter is not None for p in PATTERNS) >= 0.8 * len(PATTERNS)


def test_over_the_corpus_prefiltered_and_unfiltered_matching_agree(corpus_texts,
                                                                   unfiltered_matches):
    disagree = []
    for i, pattern in enumerate(PATTERNS):
        for text in corpus_texts:
            unfiltered = (i, text) in unfiltered_matches
            if pattern.search(text) != unfiltered:
                disagree.append((pattern.language, pattern.name, "search"))
            if (unfiltered and pattern.prefilter is not None
                    and not pattern.prefilter.passes_plainly(text)):
                disagree.append((pattern.language, pattern.name, "a literal it needs"))
    assert not disagree, sorted(set(disagree))  # names only: never a reply's words


def test_over_the_corpus_the_shared_screen_agrees_with_each_prefilter_read_alone(corpus_texts):
    disagree = {(p.language, p.name) for p in FILTERED for text in corpus_texts[::3]
                if p.prefilter.passes(text) != p.prefilter.passes_plainly(text)}
    assert not disagree, sorted(disagree)


def test_over_the_corpus_matching_finds_what_search_finds_in_order(corpus_texts,
                                                                   unfiltered_matches):
    index = {id(pattern): i for i, pattern in enumerate(PATTERNS)}
    lists = [word_list(lang) for lang in LANGUAGES]
    for text in corpus_texts:
        for wl in lists:
            for patterns in (wl.risk, wl.traps, wl.commands, wl.softeners):
                expected = [p.name for p in patterns if (index[id(p)], text) in unfiltered_matches]
                assert [p.name for p in matching(patterns, text)] == expected


def test_a_new_pattern_over_concepts_gets_a_prefilter():
    regex = re.compile(expand(r"\b@partner (just )?@violent me\b", "en"))
    (found,) = derive_all([regex])
    assert found is not None
    assert found.passes("my husband just hit me") and found.passes_plainly("my husband hit me")
    assert not found.passes("i had a lovely walk")
    assert regex.search("i had a lovely walk") is None


@pytest.mark.parametrize(("pattern", "needed"), [
    (r"\bstrangl\w* me\b", {"strangl"}),
    (r"\b(kill|end) (myself|my life)\b", {"kill myself", "kill my life", "end myself",
                                          "end my life"}),
    (r"\bstr(?:angl\w*|ike|uck)\b", {"strangl", "strike", "struck"}),
    (r"(?<!not )\bstop (texting|messaging)( me)?\b", {"stop texting", "stop messaging"}),
])
def test_the_analysis_finds_the_literals_a_match_needs(pattern, needed):
    clauses = necessary(re.compile(pattern))
    assert frozenset(needed) in clauses


@pytest.mark.parametrize("pattern", [
    r"(?i)kill myself",  # case folded: a literal no longer says what occurs
    r"(?i:kill) myself",
    r"(hit)? e\w*",  # nothing rarer than "e", in nearly every reply: not worth a test
    r"\w+ .*",
])
def test_no_prefilter_where_the_analysis_cannot_vouch_or_would_gain_nothing(pattern):
    assert necessary(re.compile(pattern)) == ()


def test_a_back_reference_needs_nothing_of_what_it_repeats():
    regex = re.compile(r"(kill|hurt)ing (\w+) \2 myself")
    for clause in necessary(regex):
        assert any(literal in "hurting so so myself" for literal in clause)


ALPHABET = "ab c"


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    """A small pattern of the kinds the word lists use."""
    choices = ["literal", "literal", "literal", "class", "sequence", "sequence", "alternation",
               "repeat", "boundary", "lookaround", "any"]
    kind = rng.choice(choices if depth < 3 else ["literal", "class", "any", "boundary"])
    if kind == "literal":
        return re.escape("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 3))))
    if kind == "class":
        return rng.choice([r"[ab]", r"[a-c]", r"\w", r"\s", r"[^a]", r"\d"])
    if kind == "any":
        return "."
    if kind == "boundary":
        return rng.choice([r"\b", "^", "$", r"\B"])
    if kind == "sequence":
        return "".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 4)))
    if kind == "alternation":
        branches = [_random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 4))]
        return f"(?:{'|'.join(branches)})"
    if kind == "repeat":
        body = _random_pattern(rng, depth + 1)
        return f"(?:{body}){rng.choice(['?', '*', '+', '{2}', '{1,3}', '??', '+?', '{0,2}'])}"
    body = _random_pattern(rng, depth + 1)
    return f"(?{rng.choice(['=', '!', '<=', '<!'])}{body})" if "<" not in body else body


def test_on_random_patterns_every_clause_kept_holds_for_every_match(monkeypatch):
    """With every clause kept, however common (the word lists keep only rare ones), a text the
    pattern matches satisfies every clause: the analysis never asks for a literal that a match
    can do without."""
    monkeypatch.setattr(prefilter, "WORTH", 1.0)
    monkeypatch.setattr(prefilter, "KEEP", 100)
    rng = random.Random(7)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 10)))
             for _ in range(400)]
    checked = 0
    for _ in range(400):
        source = _random_pattern(rng)
        try:
            regex = re.compile(source)
        except re.error:  # a look-behind of no fixed width
            continue
        clauses = necessary(regex)
        screen = Screen([clauses])
        for text in texts:
            plainly = all(any(literal in text for literal in clause) for clause in clauses)
            if regex.search(text) is not None:
                checked += 1
                assert plainly, (source, text, clauses)
            assert (0 in screen.passing(text)) == (plainly and bool(clauses)), (source, text)
    assert checked > 1000
