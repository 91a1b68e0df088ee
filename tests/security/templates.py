"""Small builders for the template attack tests: one step, or a one-step programme folder."""

from pathlib import Path
from typing import Any

VARIABLES: dict[str, Any] = {
    "name": "Sam", "programme": "Honesty", "quality": "honesty", "week": 1,
    "answers": {"a": "some words"}, "other_qualities": ["trust and care", "clear communication"],
}

PROGRAMME = """\
title: Probe
quality: honesty
summary: One step that tries something.
steps:
  - key: probe
    week: 1
    gap_days: 0
    checkin: "How did it go?"
    save_as: a
"""


def source(sms: str = "Hi {{ name }}.", subject: str = "A subject",
           email: str = "Hi {{ name }}.") -> str:
    """Blocks on lines 1, 2 and 3; the email block's text starts on line 4."""
    return (f"{{% block sms %}}{sms}{{% endblock %}}\n"
            f"{{% block subject %}}{subject}{{% endblock %}}\n"
            f"{{% block email %}}\n{email}\n{{% endblock %}}\n")


def step(**blocks: str) -> dict[str, Any]:
    return {"key": "probe", "template": "steps/probe.j2", "week": 1, "checkin": None,
            "practice": False, "source": source(**blocks)}


def programme_with(tmp_path: Path, yaml_text: str = PROGRAMME, **blocks: str) -> Path:
    folder = tmp_path / "probe"
    (folder / "steps").mkdir(parents=True)
    (folder / "programme.yaml").write_text(yaml_text, encoding="utf-8")
    (folder / "steps" / "probe.j2").write_text(source(**blocks), encoding="utf-8")
    return folder
