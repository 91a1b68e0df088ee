"""Concepts: many words, one meaning (``data/concepts.yaml``).

Two uses. Risk patterns in the word lists are written over concepts ("@want to @die"), expanded
by :func:`expand` into one regular expression when the lists load. The classifier reads
:func:`concept_features`: which concepts occur and which follow which within a few words
("partner, then a violent verb, then me"), so what it learns from one phrasing carries to
another that shares the concepts.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import Any

from coach.inbound.understanding.data import load

WINDOW = 5  # a pair of concepts counts when the second starts within this many words
MACRO = re.compile(r"@([a-z_]+)")


@dataclass(frozen=True)
class Lexicon:
    phrases: dict[tuple[str, ...], tuple[str, ...]]  # words of a phrase -> its concepts
    stems: dict[str, tuple[str, ...]]  # "strangl" -> concepts of every word that starts so
    longest: int
    stem_lengths: tuple[int, ...]
    # for speed: the lengths of the phrases that start with a word, and the first letters of
    # the stems (a word that starts like no stem is not looked up for any)
    sizes: dict[str, tuple[int, ...]]
    stem_heads: frozenset[str]

    def tag(self, words: list[str]) -> list[tuple[int, str]]:
        """(position, concept) for every phrase or stem found, in order of position."""
        found: list[tuple[int, str]] = []
        shortest = self.stem_lengths[0] if self.stem_lengths else 0
        for i, word in enumerate(words):
            for size in self.sizes.get(word, ()):
                if size > len(words) - i:
                    break
                concepts = self.phrases.get(tuple(words[i:i + size]))
                if concepts:
                    found.extend((i, c) for c in concepts)
            if word[:shortest] not in self.stem_heads:
                continue
            for length in self.stem_lengths:
                if length <= len(word):
                    concepts = self.stems.get(word[:length])
                    if concepts:
                        found.extend((i, c) for c in concepts)
        return found


def concept_features(words: list[str]) -> set[str]:
    """``k:die`` for a concept present, ``k2:want>die`` for one followed by another."""
    tagged = sorted(set(lexicon().tag(words)))
    found = {f"k:{concept}" for _, concept in tagged}
    for (i, a), (j, b) in combinations(tagged, 2):
        if a != b and 0 <= j - i <= WINDOW:
            found.add(f"k2:{a}>{b}")
    return found


def expand(pattern: str, language: str) -> str:
    """A word-list pattern with each ``@concept`` replaced by its words as one alternation."""
    table = _alternations(language)

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in table:
            raise KeyError(f"unknown concept @{name} in a {language} word list")
        return table[name]

    return MACRO.sub(one, pattern)


@cache
def lexicon() -> Lexicon:
    """Every language's concepts in one table: people mix languages when it matters."""
    phrases: dict[tuple[str, ...], set[str]] = {}
    stems: dict[str, set[str]] = {}
    for concepts in load("concepts.yaml").values():
        for concept, entries in concepts.items():
            for entry in _entries(entries):
                if entry.endswith("*"):
                    stems.setdefault(entry[:-1], set()).add(concept)
                else:
                    phrases.setdefault(tuple(entry.split()), set()).add(concept)
    sizes: dict[str, set[int]] = {}
    for phrase in phrases:
        sizes.setdefault(phrase[0], set()).add(len(phrase))
    stem_lengths = tuple(sorted({len(k) for k in stems}))
    return Lexicon(
        phrases={k: tuple(sorted(v)) for k, v in phrases.items()},
        stems={k: tuple(sorted(v)) for k, v in stems.items()},
        longest=max(len(k) for k in phrases),
        stem_lengths=stem_lengths,
        sizes={word: tuple(sorted(found)) for word, found in sizes.items()},
        stem_heads=frozenset(stem[:stem_lengths[0]] for stem in stems),
    )


@cache
def _alternations(language: str) -> dict[str, str]:
    return {concept: trie_regex(_entries(entries))
            for concept, entries in load("concepts.yaml")[language].items()}


def _entries(entries: Iterable[object]) -> list[str]:
    return [str(entry) for entry in entries]


def trie_regex(entries: Iterable[str]) -> str:
    r"""One alternation of a concept's words (``stem*`` for a stem), with shared beginnings
    written once: ``str(?:angl\w*|ike|uck)``. It matches exactly what the plain alternation
    ``strangl\w*|strike|struck`` does, but the regex engine no longer tries a hundred words at
    every position of every reply (the risk scan was most of a reply's cost)."""
    root: dict[str, Any] = {}
    for entry in entries:
        stem = entry.endswith("*")
        node = root
        for char in entry[:-1] if stem else entry:
            node = node.setdefault(char, {})
        node[STEM if stem else END] = True
    return f"(?:{_branches(root)})"


END, STEM = "", "*"  # markers in the trie: a word ends here; a stem ends here (then \w*)


def _branches(node: dict[str, Any]) -> str:
    alternatives = [re.escape(char) + _branches(node[char])
                    for char in sorted(k for k in node if k not in (END, STEM))]
    if node.get(STEM):
        return r"\w*" if not alternatives else f"(?:{'|'.join(alternatives)}|\\w*)"
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    return f"(?:{body})?" if node.get(END) else body
