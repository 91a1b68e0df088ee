"""A cheap test a reply must pass before a word-list pattern is searched (speed only).

A risk pattern is a long regular expression, and searching one costs 10-30 µs even when, as
for most replies, it cannot match. :func:`derive_all` reads each compiled pattern's own syntax
tree and works out literal strings that every match needs: *clauses*, each a set of strings
at least one of which must occur in the reply. ``\\b@partner ... @violent me`` cannot match a
reply that holds none of the partner words, so such a reply is never searched for it. The
clauses are derived from the data files when the word lists load, so a new or edited pattern
gets its own prefilter with no hand maintenance.

Safe by construction: a clause is kept only when it is *necessary*, that is when no string
holding none of its literals can be matched. Whatever the analysis cannot follow (a case-
insensitive flag, a back-reference, an operator it does not know) adds no clause, or gives no
prefilter at all, and the pattern is then searched on every reply as before. How each part of
a pattern is read:

- a literal character, or a small class such as ``[ae]``, is a finite set of strings (``exact``);
- a sequence multiplies finite sets ("@want to" is every want-word followed by " to") while they
  stay small; past a part it cannot list it keeps what every text of that part *starts* with
  (``prefix``) and *ends* with (``suffix``), so ``str(?:angl\\w*|ike)`` needs "strangl" or
  "strike";
- an alternation needs, whichever branch matched, a literal of that branch's clause;
- a repetition that may occur zero times (``x?``, ``x*``) needs nothing; one that must occur
  at least once needs what one occurrence needs;
- zero-width parts (``\\b``, ``^``, look-arounds) consume nothing; a positive look-around's own
  needs hold for the reply as a whole; a negative one needs nothing.

The prefilter tests the *whole* searched string, and every literal kept is a substring of the
text a match consumes (or, for a positive look-around, of the text it looks at), so a reply that
fails the prefilter cannot be matched by the pattern.

Speed: the prefilters of all the word lists share one :class:`Screen`, which finds once per
reply, with one regular expression of every literal, which patterns' prefilters it passes; each
pattern's test is then a look-up in a set.
"""

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

LIMIT = 16  # at most this many strings in a finite set before it is given up or cut short
CLASS_LIMIT = 12  # a character class of at most this many characters is read as a set
OPTIONS = 3  # clauses of each branch of an alternation combined into the alternation's
COMBINATIONS = 27  # at most this many clauses made of the branches of one alternation
KEEP = 6  # at most this many clauses, the most selective, are checked per pattern
WORTH = 0.8  # a clause estimated to hold on more replies than this is not worth checking


class Screen:
    """Which of many patterns' prefilters a text passes, found at once for all of them (cached
    for the few texts being read: every pattern of the word lists asks about the same reply).

    One regular expression of every literal (a trie, as in :func:`.concepts.trie_regex`, with
    longer words tried first) finds at each position of the text the longest literal that
    starts there. Any literal that occurs starts somewhere and is then a beginning of the
    longest one found there, so the literals found with their beginnings are exactly the
    literals that occur; each, when it occurs, satisfies clauses known in advance."""

    def __init__(self, clauses: Sequence[tuple[frozenset[str], ...]]) -> None:
        numbered = [(slot, clause) for slot, found in enumerate(clauses) for clause in found]
        holding: dict[str, set[int]] = {}  # literal -> the clauses (by number) holding it
        for number, (_, clause) in enumerate(numbered):
            for literal in clause:
                holding.setdefault(literal, set()).add(number)
        # literal -> every clause satisfied when it occurs: its own and its beginnings'
        self.satisfies = {literal: frozenset().union(*(
            holding.get(literal[:end], ()) for end in range(1, len(literal) + 1)))
            for literal in holding}
        self.finder = re.compile(f"(?=({_trie(sorted(holding))}))") if holding else None
        self.owner = tuple(slot for slot, _ in numbered)  # clause number -> its pattern
        needs: dict[int, set[int]] = {}  # pattern -> the numbers of its clauses
        for number, slot in enumerate(self.owner):
            needs.setdefault(slot, set()).add(number)
        self.needs = {slot: frozenset(numbers) for slot, numbers in needs.items()}
        self.passing = lru_cache(maxsize=8)(self._passing)

    def _passing(self, text: str) -> frozenset[int]:
        """The patterns (by slot) with a prefilter whose every clause ``text`` satisfies."""
        if self.finder is None:
            return frozenset()
        met = frozenset().union(*map(self.satisfies.__getitem__, self.finder.findall(text)))
        near = {self.owner[number] for number in met}
        return frozenset(slot for slot in near if self.needs[slot] <= met)


def _trie(literals: Iterable[str]) -> str:
    """One alternation of the literals, shared beginnings written once, the longer tried first:
    at a position it matches the longest literal that starts there."""
    root: dict[str, Any] = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}  # a literal ends here
    return _branches(root)


def _branches(node: dict[str, Any]) -> str:
    alternatives = [re.escape(char) + _branches(node[char]) for char in sorted(node) if char]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    return f"(?:{body})?" if "" in node else body


@dataclass(frozen=True, eq=False)
class Prefilter:
    """Clauses that every reply a pattern matches satisfies; a clause holds when one of its
    literals occurs in the reply. Made by :func:`derive_all`, never by hand."""

    clauses: tuple[frozenset[str], ...]
    screen: Screen  # knows every clause of this prefilter, as the pattern in ``slot``
    slot: int

    def passes(self, text: str) -> bool:
        return self.slot in self.screen.passing(text)

    def passes_plainly(self, text: str) -> bool:
        """The same test without the shared screen (what :meth:`passes` must agree with)."""
        return all(any(literal in text for literal in clause) for clause in self.clauses)


def derive_all(regexes: Sequence[re.Pattern[str]]) -> list[Prefilter | None]:
    """A prefilter for each compiled pattern (None where nothing useful and safe is found),
    all sharing one screen."""
    clauses = [necessary(regex) for regex in regexes]
    screen = Screen(clauses)
    _minimal.cache_clear()  # needed while deriving only
    _likelihood.cache_clear()
    return [Prefilter(found, screen, slot) if found else None
            for slot, found in enumerate(clauses)]


def necessary(regex: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """The most selective clauses every text the pattern matches satisfies (none when the
    analysis cannot tell, or finds only clauses that nearly every reply satisfies)."""
    if regex.flags & re.IGNORECASE or not isinstance(regex.pattern, str):
        return ()
    try:
        parsed = sre_parse.parse(regex.pattern, regex.flags)
        if parsed.state.flags & re.IGNORECASE:
            return ()
        info = _sequence(list(parsed))
    except Exception:  # Unsupported, or a parser unlike 3.11's: no prefilter, searched always
        return ()
    useful = [c for c in _ranked({_minimal(c) for c in _candidates(info)})
              if _likelihood(c) <= WORTH]
    return tuple(_without_implied(useful)[:KEEP])


class Unsupported(Exception):
    """Something in the pattern the analysis does not follow: no prefilter for it."""


@dataclass(frozen=True)
class _Info:
    """What the analysis knows of a part of a pattern, over every text that part can match."""

    exact: frozenset[str] | None  # every text it can match, when few; None when unknown
    prefix: frozenset[str]  # every text it matches starts with one of these ({""}: nothing known)
    suffix: frozenset[str]  # ... and ends with one of these
    clauses: tuple[frozenset[str], ...]  # each: one of these occurs in the searched string


EMPTY = frozenset({""})
NOTHING_KNOWN = _Info(None, EMPTY, EMPTY, ())
ZERO_WIDTH = _Info(EMPTY, EMPTY, EMPTY, ())


def _exact(strings: frozenset[str]) -> _Info:
    return _Info(strings, strings, strings, ())


def _node(op: object, av: Any) -> _Info:  # av: the parser's operand, untyped
    if op is sre.LITERAL:
        return _exact(frozenset({chr(av)}))
    if op is sre.IN:
        chars = _class(av)
        return _exact(chars) if chars is not None else NOTHING_KNOWN
    if op in (sre.NOT_LITERAL, sre.ANY, sre.CATEGORY):
        return NOTHING_KNOWN  # one character, not known
    if op is sre.AT:
        return ZERO_WIDTH
    if op is sre.SUBPATTERN:
        _group, add_flags, _del_flags, body = av
        if add_flags & re.IGNORECASE:
            raise Unsupported("a case-insensitive group")
        return _sequence(list(body))
    if op is sre.ATOMIC_GROUP:
        return _sequence(list(av))
    if op is sre.BRANCH:
        _, branches = av
        return _alternation([_sequence(list(branch)) for branch in branches])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, body = av
        return _repeat(low, high, _sequence(list(body)))
    if op is sre.ASSERT:  # (?=...), (?<=...): needs hold for the string, nothing consumed
        _direction, body = av
        return _Info(EMPTY, EMPTY, EMPTY, tuple(_candidates(_sequence(list(body)))))
    if op is sre.ASSERT_NOT:
        return ZERO_WIDTH
    if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
        return NOTHING_KNOWN  # may match any text, or none: nothing is needed
    raise Unsupported(f"operator {op}")


def _class(items: list[tuple[object, Any]]) -> frozenset[str] | None:
    """The characters of a class like ``[a-c_]``, when it is a few plain ones."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            chars.add(chr(av))
        elif op is sre.RANGE:
            low, high = av
            if high - low >= CLASS_LIMIT:
                return None
            chars.update(chr(c) for c in range(low, high + 1))
        else:  # NEGATE, CATEGORY (\w, \s), ...: not a few known characters
            return None
        if len(chars) > CLASS_LIMIT:
            return None
    return frozenset(chars)


def _product(left: frozenset[str], right: frozenset[str]) -> frozenset[str] | None:
    if len(left) * len(right) > LIMIT:
        return None
    if right is EMPTY:
        return left
    return frozenset(a + b for a in left for b in right)


def _parts(items: list[tuple[object, Any]]) -> list[_Info]:
    """The parts of a sequence, with each run of plain characters read as one string."""
    parts: list[_Info] = []
    text: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            text.append(chr(av))
            continue
        if text:
            parts.append(_exact(frozenset({"".join(text)})))
            text = []
        parts.append(_node(op, av))
    if text:
        parts.append(_exact(frozenset({"".join(text)})))
    return parts


def _sequence(items: list[tuple[object, Any]]) -> _Info:
    """Parts one after another. ``run``: strings the text consumed so far ends with (what was
    consumed since the last part of unknown text), grown part by part; each run, when it ends,
    is a clause."""
    parts = _parts(items)
    clauses: list[frozenset[str]] = []
    run: frozenset[str] = EMPTY
    for part in parts:
        clauses.extend(part.clauses)
        if part.exact is not None:
            grown = _product(run, part.exact)
            if grown is None:  # too many: keep what is known so far, start again
                clauses.append(run)
                grown = part.exact
            run = grown
        else:
            joined = _product(run, part.prefix)
            clauses.append(run if joined is None else joined)
            run = part.suffix
    clauses.append(run)
    exact, prefix = _prefix(parts)
    if exact is not None:
        return _Info(exact, exact, exact, tuple(clauses))
    return _Info(None, prefix, _suffix(parts), tuple(clauses))


def _prefix(parts: list[_Info]) -> tuple[frozenset[str] | None, frozenset[str]]:
    """Every text of the sequence, when few (else None), and what every text starts with."""
    head: frozenset[str] = EMPTY
    for part in parts:
        if part.exact is None:
            joined = _product(head, part.prefix)
            return None, head if joined is None else joined
        grown = _product(head, part.exact)
        if grown is None:
            return None, head
        head = grown
    return head, head


def _suffix(parts: list[_Info]) -> frozenset[str]:
    """What every text of the sequence ends with, from its last parts."""
    tail: frozenset[str] = EMPTY
    for part in reversed(parts):
        if part.exact is None:
            joined = _product(part.suffix, tail)
            return tail if joined is None else joined
        grown = _product(part.exact, tail)
        if grown is None:
            return tail
        tail = grown
    return tail


def _alternation(branches: list[_Info]) -> _Info:
    known = [b.exact for b in branches if b.exact is not None]
    if len(known) == len(branches):
        exact = frozenset().union(*known)
        if len(exact) <= LIMIT:
            return _exact(exact)
    prefix = _bounded(frozenset().union(*(b.prefix for b in branches)))
    suffix = _bounded(frozenset().union(*(b.suffix for b in branches)))
    # Whichever branch matched, a clause of it holds: so the union of one clause of each
    # branch is a clause of the alternation. Of each branch its best few (by estimate, which
    # may be wrong: "end" is short but in many words), every combination of them when few,
    # else the first of each, the second of each, and so on (the first where a branch's next
    # is not worth checking).
    options: list[list[frozenset[str]]] = []
    for branch in branches:
        ranked = _ranked({_minimal(c) for c in _candidates(branch)})
        if not ranked:
            return _Info(None, prefix, suffix, ())  # a branch that needs nothing
        options.append([c for c in ranked[:OPTIONS] if _likelihood(c) <= WORTH] or ranked[:1])
    if math.prod(len(o) for o in options) <= COMBINATIONS:
        choices = list(itertools.product(*options))
    else:
        choices = [tuple(o[k] if k < len(o) else o[0] for o in options) for k in range(OPTIONS)]
    return _Info(None, prefix, suffix, tuple(frozenset().union(*c) for c in choices))


def _bounded(strings: frozenset[str]) -> frozenset[str]:
    """A prefix or suffix set, or nothing known when it is too big to be of use."""
    return strings if len(strings) <= LIMIT else EMPTY


def _repeat(low: int, high: int, body: _Info) -> _Info:
    if low == 0:
        if high == 1 and body.exact is not None:
            return _exact(body.exact | EMPTY)
        return NOTHING_KNOWN  # may match nothing at all
    if body.exact is not None and low == high:
        exact: frozenset[str] = EMPTY
        for _ in range(low):
            grown = _product(exact, body.exact)
            if grown is None:
                break
            exact = grown
        else:
            return _exact(exact)
    return _Info(None, body.prefix, body.suffix, tuple(_candidates(body)))


def _candidates(info: _Info) -> list[frozenset[str]]:
    """Every necessary clause known of a part: its own, and its exact texts, prefixes and
    suffixes. A set holding the empty string needs nothing, so it is left out."""
    found = [*info.clauses, info.prefix, info.suffix]
    if info.exact is not None:
        found.append(info.exact)
    return [clause for clause in found if clause and "" not in clause]


@lru_cache(maxsize=4096)
def _minimal(clause: frozenset[str]) -> frozenset[str]:
    """The same clause with no literal that holds another ("kill" covers "killing"): when the
    longer one occurs, so does the shorter."""
    kept: set[str] = set()
    for literal in sorted(clause, key=len):
        size = len(literal)
        if size * size < 2 * len(kept):  # fewer parts of the literal than literals kept
            held = any(literal[i:j] in kept for i in range(size) for j in range(i + 1, size + 1))
        else:
            held = any(shorter in literal for shorter in kept)
        if not held:
            kept.add(literal)
    return frozenset(kept)


def _ranked(clauses: set[frozenset[str]]) -> list[frozenset[str]]:
    """Clauses, the most selective first (ties broken so that the order is reproducible)."""
    return sorted(clauses, key=lambda c: (_likelihood(c), len(c), sorted(c)))


@lru_cache(maxsize=4096)
def _likelihood(clause: frozenset[str]) -> float:
    """A rough chance that a reply satisfies the clause, from the length of its literals: a
    single letter nearly always occurs, a long word seldom. Only for choosing which clauses to
    check; safety never depends on it."""
    missing = 1.0
    for literal in sorted(clause):  # in one order, for the same figure in every process
        length = len(literal.strip())
        missing *= 1.0 - (CHANCE[length] if length < len(CHANCE) else CHANCE[-1])
    return 1.0 - missing


# The share of replies holding a word-list literal of 0, 1, 2... characters (spaces aside), as
# measured once on the train and dev replies over the literals the analysis finds.
CHANCE = (1.0, 0.9, 0.12, 0.025, 0.008, 0.003, 0.002, 0.0012, 0.0006)


def _without_implied(ordered: list[frozenset[str]]) -> list[frozenset[str]]:
    """The clauses in order, leaving out one that a kept one implies (each literal of the kept
    one holding a literal of this one)."""
    kept: list[frozenset[str]] = []
    for clause in ordered:
        if any(all(any(lit in big for lit in clause) for big in stronger) for stronger in kept):
            continue
        kept.append(clause)
    return kept
