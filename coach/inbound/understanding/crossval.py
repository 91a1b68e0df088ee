"""Cross-validation over the train and dev splits: how to choose methods and thresholds
without the test split.

    python -m coach.inbound.understanding.crossval              # the shipped settings
    python -m coach.inbound.understanding.crossval --concepts   # with concept patterns only
    python -m coach.inbound.understanding.crossval --lists-only # the word lists alone
    python -m coach.inbound.understanding.crossval --sweep      # the classifier's threshold

The dev split stopped being a held-out check once word lists were written from its misses, so
the figures here are of a classifier trained on four folds of train + dev and read on the
fifth, beside the word lists. The lists' figures on train + dev are optimistic (they were
written with those replies in view), so thresholds are chosen with ``--concepts``: only the
patterns written over concepts, which miss on train + dev about as they would on new
phrasings. Folds are stratified by group, category and language, ordered by the SHA-256 of
each id: the same folds every run. Only figures are printed, never a reply.
"""

import hashlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from coach.inbound.understanding import Reader, Understood
from coach.inbound.understanding.corpus import Labelled, read_split
from coach.inbound.understanding.evaluation import GATES, Report
from coach.inbound.understanding.risk import Thresholds
from coach.inbound.understanding.train import train
from coach.inbound.understanding.wordlists import WordList, in_order

FOLDS = 5


def folds(rows: Sequence[Labelled], k: int = FOLDS) -> list[list[Labelled]]:
    strata: dict[tuple[str, str | None, str], list[Labelled]] = defaultdict(list)
    for row in rows:
        strata[(row.group, row.category, row.language)].append(row)
    out: list[list[Labelled]] = [[] for _ in range(k)]
    turn = 0
    for key in sorted(strata, key=str):
        for row in sorted(strata[key], key=lambda r: hashlib.sha256(r.id.encode()).hexdigest()):
            out[turn % k].append(row)
            turn += 1
    return out


def concepts_only(language: str) -> list[WordList]:
    """The word lists with only their risk patterns written over concepts."""
    return [replace(wl, risk=tuple(p for p in wl.risk if p.name.startswith("concept/")))
            for wl in in_order(language)]


def cross_validated(rows: Sequence[Labelled], thresholds: Thresholds | None = None,
                    lists_only: bool = False, concepts: bool = False) -> Report:
    """Every reply read by a reader whose classifier never saw it."""
    parts = folds(rows)
    read: dict[str, Understood] = {}
    lists = concepts_only if concepts else in_order
    for i, held in enumerate(parts):
        if lists_only:
            reader = Reader(None, word_lists=lists)
        else:
            fitted = train(rows=[row for j, part in enumerate(parts) if j != i for row in part])
            reader = Reader(fitted, thresholds or Thresholds(), lists)
        for row in held:
            read[row.id] = reader.understand(row.text, row.context, row.language, row.country)
    return Report(list(rows), [read[row.id] for row in rows])


def summary(report: Report) -> str:
    figures = report.figures()
    shown = [*GATES, "risk recall, suicide_self_harm", "risk recall, partner_violence",
             "risk recall, sexual_coercion", "risk recall, stalking_fear", "risk recall, other",
             "risk recall, en", "risk recall, es", "urgent vs concern agreement",
             "intent agreement"]
    urgent_alarms = _urgent_false_alarms(report)
    lines = [f"  {name:<38} {figures[name]:.3f}" for name in shown]
    lines.append(f"  {'false alarms read as urgent':<38} {urgent_alarms:.3f}")
    return "\n".join(lines)


def _urgent_false_alarms(report: Report) -> float:
    calm = report.pairs(lambda row: row.risk == "none")
    return sum(got.risk == "urgent" for _, got in calm) / len(calm)


def main(argv: Sequence[str]) -> int:
    rows = read_split("train") + read_split("dev")
    concepts = "--concepts" in argv
    if "--lists-only" in argv:
        print("word lists alone on train + dev (optimistic: written from them)")
        print(summary(cross_validated(rows, lists_only=True, concepts=concepts)))
        return 0
    if "--sweep" in argv:
        for flag in (0.2, 0.3, 0.4, 0.5, 0.7, 0.9):
            thresholds = replace(Thresholds(), flag=flag)
            report = cross_validated(rows, thresholds, concepts=concepts)
            figures = report.figures()
            print(f"flag {flag:.2f}: recall {figures['risk recall']:.3f}, "
                  f"false alarms {figures['false alarms']:.3f}, "
                  f"read as urgent {_urgent_false_alarms(report):.3f}")
        return 0
    print(f"{FOLDS}-fold cross-validation on train + dev ({len(rows)} replies)"
          + (", concept patterns only" if concepts else ""))
    print(summary(cross_validated(rows, concepts=concepts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
