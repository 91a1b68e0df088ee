"""Figures of reply understanding on a labelled split, and the gates the build holds it to."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coach.inbound.understanding import CATEGORIES, INTENTS, RISKS, Reader, Understood
from coach.inbound.understanding.corpus import Labelled

# The figures (issue 7); the build fails below them on the test split.
GATES: dict[str, tuple[str, float]] = {
    "risk recall": (">=", 0.98),
    "risk recall, worst category": (">=", 0.95),
    "risk recall, worst language": (">=", 0.95),
    "false alarms": ("<=", 0.03),
    "opt-out recall": (">=", 0.98),
    "opt-outs on look-alikes": ("<=", 0.0),
    "free-text answers read as slower": ("<=", 0.02),
}


@dataclass(frozen=True)
class Report:
    rows: Sequence[Labelled]
    results: Sequence[Understood]

    def pairs(self, keep: Callable[[Labelled], bool] = lambda row: True
              ) -> list[tuple[Labelled, Understood]]:
        return [(row, got) for row, got in zip(self.rows, self.results, strict=True) if keep(row)]

    def figures(self) -> dict[str, float]:
        at_risk = self.pairs(lambda row: row.risk != "none")
        per_category = {c: _flagged([p for p in at_risk if p[0].category == c])
                        for c in CATEGORIES}
        per_language = {lang: _flagged([p for p in at_risk if p[0].language == lang])
                        for lang in sorted({row.language for row in self.rows})}
        flagged = [(row, got) for row, got in at_risk if got.risk != "none"]
        return {
            "risk recall": _flagged(at_risk),
            **{f"risk recall, {c}": v for c, v in per_category.items()},
            **{f"risk recall, {lang}": v for lang, v in per_language.items()},
            "risk recall, worst category": min(per_category.values()),
            "risk recall, worst language": min(per_language.values()),
            "false alarms": _flagged(self.pairs(lambda row: row.risk == "none")),
            "opt-out recall": _share(self.pairs(lambda r: r.intent == "stop"), "intent", "stop"),
            "opt-outs on look-alikes": float(sum(
                got.intent == "stop" for _, got in self.pairs(lambda r: r.group == "lookalike"))),
            "free-text answers read as slower": _share(
                self.pairs(lambda r: r.intent == "answer"), "intent", "slower"),
            "urgent vs concern agreement": _agree(flagged, "risk"),
            "category agreement (flagged risk)": _agree(flagged, "category"),
            "intent agreement": _agree(self.pairs(), "intent"),
            "rating agreement (rating replies)": _agree(
                self.pairs(lambda r: r.intent == "rating"), "rating"),
            "days agreement (pauses)": _agree(self.pairs(lambda r: r.intent == "pause"), "days"),
        }

    def failures(self, gates: dict[str, tuple[str, float]] = GATES) -> list[str]:
        """The gated figures below their bound, as figures only (never a reply's words)."""
        figures = self.figures()
        return [f"{name} {figures[name]:.3f} (needs {op} {bound})"
                for name, (op, bound) in gates.items()
                if not (figures[name] >= bound if op == ">=" else figures[name] <= bound)]

    def confusion(self, field: str) -> tuple[tuple[str, ...], Counter[tuple[str, str]]]:
        labels = RISKS if field == "risk" else INTENTS
        return labels, Counter((str(getattr(row, field)), str(getattr(got, field)))
                               for row, got in self.pairs())


def evaluate(reader: Reader, rows: Sequence[Labelled]) -> Report:
    return Report(rows, [reader.understand(row.text, row.context, row.language, row.country)
                         for row in rows])


def render(report: Report) -> str:
    """The confusion tables and figures as plain text (never any reply's words)."""
    lines = [_table(report, "risk"), "", _table(report, "intent"), "", "figures"]
    gated = {name for name in GATES}
    for name, value in report.figures().items():
        mark = ""
        if name in gated:
            op, bound = GATES[name]
            mark = f"   (target {op} {bound})"
        shown = f"{value:.0f}" if name == "opt-outs on look-alikes" else f"{value:.3f}"
        lines.append(f"  {name:<38} {shown:>6}{mark}")
    return "\n".join(lines)


def _table(report: Report, field: str) -> str:
    labels, counts = report.confusion(field)
    width = max(len(label) for label in labels) + 1
    header = f"{field} (rows: labelled, columns: read as)".ljust(width + 2)
    lines = [header, " " * width + "".join(f"{label[:7]:>8}" for label in labels)]
    for truth in labels:
        cells = "".join(f"{counts[(truth, got)]:>8}" for got in labels)
        lines.append(f"{truth:<{width}}{cells}")
    return "\n".join(lines)


def _flagged(pairs: list[tuple[Labelled, Understood]]) -> float:
    return sum(got.risk != "none" for _, got in pairs) / len(pairs) if pairs else 1.0


def _share(pairs: list[tuple[Labelled, Understood]], field: str, value: str) -> float:
    return sum(getattr(got, field) == value for _, got in pairs) / len(pairs) if pairs else 1.0


def _agree(pairs: list[tuple[Labelled, Understood]], field: str) -> float:
    same = sum(getattr(row, field) == getattr(got, field) for row, got in pairs)
    return same / len(pairs) if pairs else 1.0
