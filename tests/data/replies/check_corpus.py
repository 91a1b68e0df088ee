#!/usr/bin/env python3
"""Validate the labelled reply corpus and print its counts (standard library only).

    python tests/data/replies/check_corpus.py

Exits non-zero when a record breaks the schema or the corpus falls below its minimums.
It reads every split, so it prints counts for the test split too; it never prints test texts.

It also validates `fresh.jsonl`, the later tuning set (ids `fresh-0001`...): the same schema,
unique ids, no reply text shared with train, dev or test (compared after lowercasing and
collapsing spaces; a clash is reported by fresh id only), every group and risk category in both
languages; and prints its counts separately. Fresh replies never count towards the minimums.
"""
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SPLITS = ("train", "dev", "test")
FRESH = "fresh"

CONTEXTS = {"scale", "text", "none"}
LANGUAGES = {"en", "es"}
INTENTS = {"stop", "start", "help", "pause", "resume", "slower", "ready", "rating", "answer",
           "unclear"}
COMMANDS = {"stop", "start", "help", "pause", "resume", "slower", "ready"}
RISKS = {"none", "concern", "urgent"}
CATEGORIES = {"suicide_self_harm", "partner_violence", "sexual_coercion", "stalking_fear", "other"}
GROUPS = {"risk", "trap", "answer", "rating", "command", "lookalike", "ordinary"}
TAGS = {"textspeak", "typo", "emoji", "all_caps", "no_final_punctuation"}
REQUIRED = ("id", "text", "context", "language", "country", "intent", "risk", "category",
            "rating", "days", "group")
OPTIONAL = ("tags", "question", "note")
# The first release (en-0001..en-1550, es-0001..es-0587) was split by stratified hashing and is
# fixed. Every later reply goes to the split given by its id's SHA-256 modulo 10.
FIRST_RELEASE_LAST = {"en": 1550, "es": 587}
EXPLICIT_RATING = re.compile(r"\b[1-5]\s*(/|out of|de)\s*5\b", re.I)

MINIMUMS = {
    "total": 1500,
    "risk": 500,
    "risk_es": 100,
    "category": 60,
    "category_es": 15,
    "trap": 500,
    "trap_es": 100,
}


def programme_questions():
    """save_as keys of the built-in programmes (free-text questions), read without YAML."""
    keys = set()
    for path in sorted((REPO / "templates" / "programmes").glob("*/programme.yaml")):
        keys.update(re.findall(r"^\s*save_as:\s*([A-Za-z0-9_]+)\s*$",
                               path.read_text(encoding="utf-8"), re.M))
    return keys


def check_record(r, where, questions, fresh=False):
    errs = []
    for k in REQUIRED:
        if k not in r:
            errs.append(f"{where}: missing {k}")
    for k in r:
        if k not in REQUIRED and k not in OPTIONAL:
            errs.append(f"{where}: unknown field {k}")
    if errs:
        return errs

    def bad(msg):
        errs.append(f"{where} ({r['id']}): {msg}")

    if fresh:
        if not re.fullmatch(r"fresh-\d{4}", str(r["id"])):
            bad("id must look like fresh-0001")
    elif not re.fullmatch(r"(en|es)-\d{4}", str(r["id"])):
        bad("id must look like en-0001")
    elif r["id"][:2] != r["language"]:
        bad("id prefix and language differ")
    if not isinstance(r["text"], str) or not r["text"].strip():
        bad("empty text")
    if r["context"] not in CONTEXTS:
        bad(f"context {r['context']!r}")
    if r["language"] not in LANGUAGES:
        bad(f"language {r['language']!r}")
    if not (isinstance(r["country"], str) and re.fullmatch(r"[A-Z]{2}", r["country"])):
        bad(f"country {r['country']!r} is not an ISO 3166 alpha-2 code")
    if r["intent"] not in INTENTS:
        bad(f"intent {r['intent']!r}")
    if r["risk"] not in RISKS:
        bad(f"risk {r['risk']!r}")
    if r["risk"] == "none" and r["category"] is not None:
        bad("category must be null when risk is none")
    if r["risk"] != "none" and r["category"] not in CATEGORIES:
        bad(f"risk {r['risk']} needs a category, got {r['category']!r}")
    rating = r["rating"]
    if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool)
                               or not 1 <= rating <= 5):
        bad(f"rating {rating!r}")
    if r["intent"] == "rating":
        if rating is None:
            bad("intent rating needs a rating")
        if r["context"] != "scale" and not EXPLICIT_RATING.search(r["text"]):
            bad("a rating outside a 1-5 check-in needs an explicit 'n/5'")
    elif rating is not None and r["intent"] not in ("slower", "ready"):
        bad(f"rating given with intent {r['intent']}")
    days = r["days"]
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            bad(f"days {days!r}")
        if r["intent"] != "pause":
            bad("days only go with intent pause")
    group = r["group"]
    if group not in GROUPS:
        bad(f"group {group!r}")
    if group == "risk" and r["risk"] == "none":
        bad("group risk with risk none")
    if group != "risk" and r["risk"] != "none":
        bad(f"group {group} must have risk none")
    if group == "command" and r["intent"] not in COMMANDS:
        bad(f"group command with intent {r['intent']}")
    if group == "rating" and r["intent"] != "rating":
        bad("group rating needs intent rating")
    if group == "answer" and r["intent"] != "answer":
        bad("group answer needs intent answer")
    if group in ("lookalike", "trap") and r["intent"] in COMMANDS:
        bad(f"a {group} is never a command")
    tags = r.get("tags", [])
    if not isinstance(tags, list) or any(t not in TAGS for t in tags):
        bad(f"tags {tags!r}")
    q = r.get("question")
    if q is not None:
        allowed = questions | {"checkin"} if questions else None
        if not isinstance(q, str) or (allowed and q not in allowed):
            bad(f"question {q!r} is not a free-text question of a built-in programme")
        if q != "checkin" and r["context"] != "text":
            bad("a programme question key needs context text")
    if "note" in r and not (isinstance(r["note"], str) and r["note"].strip()):
        bad("empty note")
    return errs


def table(title, counter, order=None):
    print(f"\n{title}")
    keys = order or sorted(counter, key=str)
    width = max((len(str(k)) for k in keys), default=0)
    for k in keys:
        print(f"  {k!s:<{width}}  {counter[k]:>5}")


def normalised(text):
    return re.sub(r"\s+", " ", str(text).lower()).strip()


def check_fresh(questions, records):
    """Validate fresh.jsonl against the schema and the other splits; print its counts."""
    path = HERE / f"{FRESH}.jsonl"
    if not path.exists():
        return [f"missing {path.name}"]
    errors, fresh = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        try:
            r = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not JSON ({exc})")
            continue
        errs = check_record(r, where, questions, fresh=True)
        errors.extend(errs)
        if not errs:
            fresh.append(r)
    ids = Counter(r["id"] for r in fresh)
    errors.extend(f"{path.name}: duplicate id {i}" for i, c in ids.items() if c > 1)
    others = {normalised(r.get("text", "")) for _, r in records}
    seen = {}
    for r in fresh:
        key = normalised(r["text"])
        if key in others:
            # by id only: the clashing reply may be a test text, which is never printed
            errors.append(f"{path.name}: {r['id']} repeats the text of a reply in another split")
        if key in seen:
            errors.append(f"{path.name}: {r['id']} repeats the text of {seen[key]}")
        seen.setdefault(key, r["id"])
    for lang in sorted(LANGUAGES):
        for c in sorted(CATEGORIES):
            for level in ("concern", "urgent"):
                if not any(r["language"] == lang and r["category"] == c and r["risk"] == level
                           for r in fresh):
                    errors.append(f"{path.name} has no {lang} {level} reply in category {c}")
        for g in sorted(GROUPS):
            if not any(r["language"] == lang and r["group"] == g for r in fresh):
                errors.append(f"{path.name} has no {lang} reply in group {g}")
    for q in sorted(questions - {r.get("question") for r in fresh if r["group"] == "answer"}):
        errors.append(f"{path.name} has no answer to the programme question {q}")

    risky = [r for r in fresh if r["risk"] != "none"]
    print(f"\n=== {path.name} (tuning set, not counted above) ===")
    print(f"replies: {len(fresh)}; risk: {len(risky)}, of which Spanish: "
          f"{sum(r['language'] == 'es' for r in risky)}")
    table("fresh: per language", Counter(r["language"] for r in fresh))
    table("fresh: per group and language", Counter((r["group"], r["language"]) for r in fresh))
    table("fresh: risk level and language", Counter((r["risk"], r["language"]) for r in fresh))
    table("fresh: risk per category, level and language",
          Counter((r["category"], r["risk"], r["language"]) for r in risky))
    table("fresh: per intent", Counter(r["intent"] for r in fresh))
    table("fresh: per context", Counter(r["context"] for r in fresh))
    table("fresh: ratings", Counter(r["rating"] for r in fresh if r["rating"] is not None))
    table("fresh: answers per programme question",
          Counter(r["question"] for r in fresh if r["group"] == "answer" and r.get("question")))
    table("fresh: per country", Counter((r["language"], r["country"]) for r in fresh))
    table("fresh: tags", Counter(t for r in fresh for t in r.get("tags", [])))
    print(f"\nfresh: with a labelling note: {sum('note' in r for r in fresh)}")
    return errors


def main():
    questions = programme_questions()
    errors = []
    records = []
    for split in SPLITS:
        path = HERE / f"{split}.jsonl"
        if not path.exists():
            errors.append(f"missing {path.name}")
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{n}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not JSON ({exc})")
                continue
            errors.extend(check_record(r, where, questions))
            records.append((split, r))

    for split, r in records:
        lang, _, num = str(r.get("id", "")).partition("-")
        if num.isdigit() and int(num) > FIRST_RELEASE_LAST.get(lang, 10**6):
            b = int(hashlib.sha256(r["id"].encode()).hexdigest(), 16) % 10
            want = "train" if b <= 5 else "dev" if b <= 7 else "test"
            if split != want:
                errors.append(f"{r['id']} is in {split}; replies added after the first release "
                              f"go by sha256(id) % 10, which gives {want}")

    ids = Counter(r["id"] for _, r in records)
    errors.extend(f"duplicate id {i}" for i, c in ids.items() if c > 1)
    seen = Counter((r["text"], r["context"], r["language"], r.get("question")) for _, r in records)
    errors.extend(f"duplicate reply in the same context: {k[0]!r}"
                  for k, c in seen.items() if c > 1)

    allr = [r for _, r in records]
    risky = [r for r in allr if r["risk"] != "none"]
    cats = Counter(r["category"] for r in risky)
    cats_es = Counter(r["category"] for r in risky if r["language"] == "es")
    checks = [
        ("total", len(allr), MINIMUMS["total"]),
        ("risk (concern or urgent)", len(risky), MINIMUMS["risk"]),
        ("risk in Spanish", sum(r["language"] == "es" for r in risky), MINIMUMS["risk_es"]),
        ("traps", sum(r["group"] == "trap" for r in allr), MINIMUMS["trap"]),
        ("traps in Spanish", sum(r["group"] == "trap" and r["language"] == "es" for r in allr),
         MINIMUMS["trap_es"]),
    ]
    for c in sorted(CATEGORIES):
        checks.append((f"risk category {c}", cats[c], MINIMUMS["category"]))
        checks.append((f"risk category {c} in Spanish", cats_es[c], MINIMUMS["category_es"]))
    for name, got, need in checks:
        if got < need:
            errors.append(f"too few: {name}: {got} < {need}")
    answered = {r.get("question") for r in allr if r["group"] == "answer"}
    for q in sorted(questions - answered):
        errors.append(f"no answer to the programme question {q}")
    for split in SPLITS:
        in_split = [r for s, r in records if s == split]
        for lang in sorted(LANGUAGES):
            for c in sorted(CATEGORIES):
                if not any(r["language"] == lang and r["category"] == c for r in in_split):
                    errors.append(f"split {split} has no {lang} reply in category {c}")
            for g in sorted(GROUPS):
                if not any(r["language"] == lang and r["group"] == g for r in in_split):
                    errors.append(f"split {split} has no {lang} reply in group {g}")

    print(f"replies: {len(allr)}")
    table("per split", Counter(s for s, _ in records), list(SPLITS))
    table("per split and language", Counter((s, r["language"]) for s, r in records))
    table("per group and language", Counter((r["group"], r["language"]) for r in allr))
    table("risk: per category, level and language",
          Counter((r["category"], r["risk"], r["language"]) for r in risky))
    table("risk: per category and split", Counter((r["category"], s) for s, r in records
                                                   if r["risk"] != "none"))
    table("per group and split", Counter((r["group"], s) for s, r in records))
    table("per intent", Counter(r["intent"] for r in allr))
    table("per context", Counter(r["context"] for r in allr))
    table("ratings", Counter(r["rating"] for r in allr if r["rating"] is not None))
    table("answers per programme question",
          Counter(r["question"] for r in allr if r["group"] == "answer" and r.get("question")))
    table("per country", Counter((r["language"], r["country"]) for r in allr))
    table("tags", Counter(t for r in allr for t in r.get("tags", [])))
    print(f"\nwith a labelling note: {sum('note' in r for r in allr)}")

    errors.extend(check_fresh(questions, records))

    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors[:200]:
            print(f"  {e}", file=sys.stderr)
        return 1
    print("\nOK: schema valid, minimums met, fresh set valid.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
