"""The labelled replies of ``tests/data/replies`` (a source checkout only, not the package)."""

import json
from dataclasses import dataclass
from pathlib import Path

from coach.settings import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "tests" / "data" / "replies"
SPLITS = ("train", "dev", "test", "fresh")  # fresh: a later set, for tuning (README)


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    context: str
    language: str
    country: str | None
    intent: str
    risk: str
    category: str | None
    rating: int | None
    days: int | None
    group: str


def read_split(split: str, folder: Path = CORPUS_DIR) -> list[Labelled]:
    """One split's replies; says where the corpus should be when it is missing."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no corpus split at {path}; run from a source checkout of coach")
    fields = Labelled.__dataclass_fields__
    with path.open(encoding="utf-8") as lines:
        return [Labelled(**{k: v for k, v in json.loads(line).items() if k in fields})
                for line in lines if line.strip()]
