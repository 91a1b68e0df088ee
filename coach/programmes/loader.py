"""Read a programme folder into a plain definition, noting every problem with file and line."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coach.programmes.qualities import QUALITIES

TOP_KEYS = {"title", "quality", "summary", "pacing", "steps"}
STEP_KEYS = {"key", "week", "gap_days", "practice", "checkin", "save_as", "template"}
MAX_FILE_CHARS = 100_000  # a programme file or step template; the built-in ones are ~2,000
# Tags of plain data. Anything else (!!python/object, !!binary, custom tags) is refused.
PLAIN_TAGS = {f"tag:yaml.org,2002:{name}"
              for name in ("str", "int", "float", "bool", "null", "seq", "map")} | {"!"}
PACING_KEYS = {
    "slower_factor", "faster_factor", "max_pace", "reminder_after_days",
    "wait_for_answer_days", "unanswered_factor", "unanswered_pause_after",
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Loaded:
    folder: Path
    definition: dict[str, Any]
    problems: list[Problem]


def load_programme(folder: Path) -> Loaded:
    loaded = Loaded(folder, {"slug": folder.name, "steps": []}, [])
    path = folder / "programme.yaml"
    if not path.is_file():
        loaded.problems.append(Problem(str(path), 1, "programme.yaml is missing"))
        return loaded
    text = _read(path)
    if text is None:
        loaded.problems.append(Problem(str(path), 1, "the file is not UTF-8 text"))
        return loaded
    try:
        refused = _too_big(text) or _plain_yaml_problem(text)
        if refused:
            loaded.problems.append(Problem(str(path), *refused))
            return loaded
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        loaded.problems.append(Problem(str(path), line, f"bad YAML: {error.problem}"))
        return loaded
    _read_top(loaded, path, root)
    return loaded


def _plain_yaml_problem(text: str) -> tuple[int, str] | None:
    """Scan the events before composing anything: an alias bomb (billion laughs) never grows,
    and no tag asks for a Python object. Programme files need neither anchors nor tags."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            return line, ("anchors and aliases (&name, *name) are not allowed in programme "
                          "files; write each value out")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in PLAIN_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            return line, (f"the tag {shown} is not allowed; programme files hold plain text, "
                          "numbers, true or false, lists and mappings")
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def _too_big(text: str) -> tuple[int, str] | None:
    if len(text) > MAX_FILE_CHARS:
        return 1, f"the file is over {MAX_FILE_CHARS} characters; keep programme files short"
    return None


def _read_top(loaded: Loaded, path: Path, root: yaml.Node | None) -> None:
    note = _noter(loaded, path)
    if not isinstance(root, yaml.MappingNode):
        note(1, "the file must be a mapping with title, quality and steps")
        return
    fields = _mapping(root, TOP_KEYS, note, "programme")
    for required in ("title", "quality", "steps"):
        if required not in fields:
            note(root.start_mark.line + 1, f"missing required key '{required}'")
    for key in ("title", "quality", "summary"):
        if key in fields:
            loaded.definition[key] = str(_value(fields[key]))
    if "quality" in fields and loaded.definition["quality"] not in QUALITIES:
        note(fields["quality"].start_mark.line + 1,
             f"unknown quality '{loaded.definition['quality']}' "
             f"(use one of: {', '.join(QUALITIES)})")
    if "pacing" in fields:
        loaded.definition["pacing"] = _read_pacing(fields["pacing"], note)
    if "steps" in fields:
        loaded.definition["steps"] = _read_steps(loaded.folder, fields["steps"], note)


def _read_pacing(node: yaml.Node, note: Any) -> dict[str, float]:
    if not isinstance(node, yaml.MappingNode):
        note(node.start_mark.line + 1, "pacing must be a mapping")
        return {}
    pacing = {}
    for key, value_node in _mapping(node, PACING_KEYS, note, "pacing").items():
        value = _value(value_node)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            note(value_node.start_mark.line + 1, f"pacing {key} must be a positive number")
            continue
        pacing[key] = value
    return pacing


def _read_steps(folder: Path, node: yaml.Node, note: Any) -> list[dict[str, Any]]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        note(node.start_mark.line + 1, "steps must be a non-empty list")
        return []
    steps, seen = [], set()
    for item in node.value:
        step = _read_step(folder, item, note)
        if step is None:
            continue
        if step["key"] in seen:
            note(step["line"], f"step key '{step['key']}' is used twice")
        seen.add(step["key"])
        steps.append(step)
    return steps


def _read_step(folder: Path, node: yaml.Node, note: Any) -> dict[str, Any] | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        note(line, "each step must be a mapping with key, week and gap_days")
        return None
    nodes = _mapping(node, STEP_KEYS, note, "step")
    raw = {k: _value(v) for k, v in nodes.items()}
    if not isinstance(raw.get("key"), str) or not raw["key"].strip():
        note(line, "step has no 'key'")
        return None

    def at(key: str) -> int:
        return nodes[key].start_mark.line + 1 if key in nodes else line

    key = raw["key"]
    step = {
        "key": key, "line": line, "practice": raw.get("practice", False),
        "week": _whole(raw, "week", 1, at("week"), note),
        "gap_days": _whole(raw, "gap_days", 0, at("gap_days"), note),
        "checkin": None, "save_as": raw.get("save_as"),
    }
    if not isinstance(step["practice"], bool):
        note(at("practice"), f"practice must be true or false, not {step['practice']!r}")
        step["practice"] = False
    if "checkin" in raw:
        question = raw["checkin"]
        if not isinstance(question, str) or not question.strip():
            note(at("checkin"), f"step '{key}' is a check-in with no question")
        else:
            step["checkin"] = question.strip()
    if step["save_as"] is not None and not str(step["save_as"]).isidentifier():
        note(at("save_as"), f"save_as must be a plain name like first_week, "
                            f"not {step['save_as']!r}")
    if step["save_as"] is not None and step["checkin"] is None:
        note(at("save_as"), f"step '{key}' saves an answer but asks no check-in question")
    _read_template(folder, step, raw.get("template") or f"steps/{key}.j2", at("template"), note)
    return step


def _read_template(folder: Path, step: dict[str, Any], name: str, line: int, note: Any) -> None:
    """Templates live inside the programme's own folder: admin content reads nothing else."""
    root = folder.resolve()
    template = (folder / str(name)).resolve()
    if not template.is_relative_to(root):
        note(line, f"template {name} must be a path inside the programme folder")
        return
    step["template"] = str(template.relative_to(root))
    if template.is_file():
        source = _read(template)
        if source is None:
            note(line, f"template {step['template']} is not UTF-8 text")
            return
        if _too_big(source):
            note(line, f"template {step['template']} is over {MAX_FILE_CHARS} characters; "
                       "a step is a short message")
            return
        step["source"] = source
    else:
        note(line, f"template {step['template']} for step '{step['key']}' does not exist")


def _whole(raw: dict[str, Any], key: str, minimum: int, line: int, note: Any) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        note(line, f"{key} must be a whole number of at least {minimum}, not {value!r}")
        return minimum
    return value


def _mapping(node: yaml.MappingNode, allowed: set[str], note: Any, where: str) -> dict[str, Any]:
    fields = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            note(key_node.start_mark.line + 1, f"unknown {where} key '{key}' (known: {known})")
            continue
        fields[key] = value_node
    return fields


def _value(node: yaml.Node) -> Any:
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data()


def _noter(loaded: Loaded, path: Path) -> Any:
    def note(line: int, message: str) -> None:
        loaded.problems.append(Problem(str(path), line, message))

    return note
