"""Risk first, on every reply: word lists, then the classifier for what they miss (or for what a
softener of the word lists leaves to it)."""

from dataclasses import dataclass

from coach.inbound.understanding.classifier import Classifier
from coach.inbound.understanding.wordlists import LEVELS, Pattern, WordList, matching


@dataclass(frozen=True)
class Risk:
    level: str
    category: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Thresholds:
    """Chosen by 5-fold cross-validation over train + dev (``python -m
    coach.inbound.understanding.crossval --concepts``), with only the concept patterns as word
    lists so that the lists miss as they would on unseen phrasings, and checked on the fresh
    set (aggregate figures only). With the corpus's second batch, L2 0.4 and letter trigrams:
    flag 0.4 read recall 0.952 at 6.3% false alarms in cross-validation (0.45: 0.942 at 5.2%).
    On the fresh set, phrase-by-phrase patterns corroborated by the classifier at 0.3 (0.25 to
    0.4 read alike) kept recall 0.944 and cut false alarms from 7.8% to 7.0% at flag 0.4
    (flag 0.45: 0.931 at 5.6%). Recall first. A reply the classifier alone flags is a concern
    (reviewed, nothing sent) unless it is very sure of urgent: 0.8 cut urgent false alarms
    from 2.3% to 1.6% at the same recall."""

    flag: float = 0.4  # P(concern or urgent) at which the classifier alone flags a reply
    corroborate: float = 0.3  # P(concern or urgent) a phrase-by-phrase pattern's match needs
    flag_after_trap: float = 1.01  # never, when a trap (an idiom, "lol") is in the reply
    urgent: float = 0.8  # share of urgent in the flagged probability


NO_RISK = Risk("none", None, ())
CONCEPT = "concept/"  # the word-list patterns written over concepts


def assess(normalised: str, lists: list[WordList], classifier: Classifier | None,
           thresholds: Thresholds) -> Risk:
    hits = [pattern for wl in lists for pattern in matching(wl.risk, normalised)]
    softened = _softened(normalised, lists) if hits else set()
    kept = [hit for hit in hits if hit.category not in softened]
    if kept and (classifier is None or any(hit.name.startswith(CONCEPT) for hit in kept)
                 or _corroborated(normalised, classifier, thresholds)):
        return _from_word_lists(normalised, kept, lists)
    if classifier is None:
        return NO_RISK
    return _from_classifier(normalised, lists, classifier, thresholds)


def _corroborated(normalised: str, classifier: Classifier, thresholds: Thresholds) -> bool:
    """A match of a pattern written phrase by phrase (not over concepts) counts when the
    classifier sees some risk in the reply too: those patterns were written from train and dev
    and, alone, raised false alarms on the fresh set more than they raised recall."""
    risk = classifier.read_risk(normalised)
    return risk["concern"] + risk["urgent"] >= thresholds.corroborate


def _softened(normalised: str, lists: list[WordList]) -> set[str]:
    """Categories whose word-list matches a softener undoes in this reply ("a stalker in the
    podcast", "my cat attacks my feet", "cut myself shaving"); the classifier still reads it."""
    return {category for wl in lists for softener in matching(wl.softeners, normalised)
            for category in softener.softens}


def _from_word_lists(normalised: str, hits: list[Pattern], lists: list[WordList]) -> Risk:
    level = max((hit.level for hit in hits), key=LEVELS.__getitem__)
    top = [hit for hit in hits if hit.level == level]
    # Someone else in danger is named beside the danger itself ("my sister took pills").
    chosen = next((hit for hit in top if hit.category == "other"), top[0])
    reasons = tuple(hit.describe() for hit in hits)
    if level == "urgent" and _lowered(normalised, chosen, lists):
        level = "concern"
        reasons += ("said as a joke or as past: urgent lowered to concern",)
    return Risk(level, chosen.category, reasons)


def _lowered(normalised: str, chosen: Pattern, lists: list[WordList]) -> bool:
    joking = chosen.category == "suicide_self_harm" and any(
        wl.hyperbole.search(normalised) for wl in lists)
    return joking or any(wl.past.search(normalised) for wl in lists)


def _from_classifier(normalised: str, lists: list[WordList], classifier: Classifier,
                     thresholds: Thresholds) -> Risk:
    risk = classifier.read_risk(normalised)
    flagged = risk["concern"] + risk["urgent"]
    if flagged < min(thresholds.flag, thresholds.flag_after_trap):
        return NO_RISK  # most replies: no need to look for traps
    trapped = any(next(matching(wl.traps, normalised), None) is not None for wl in lists)
    if flagged < (thresholds.flag_after_trap if trapped else thresholds.flag):
        return NO_RISK
    category = classifier.read_category(normalised)
    level = "urgent" if risk["urgent"] >= thresholds.urgent * flagged else "concern"
    best = max(category, key=category.__getitem__)
    return Risk(level, best, (f"classifier: {level} {flagged:.2f}, {best} {category[best]:.2f}",))
