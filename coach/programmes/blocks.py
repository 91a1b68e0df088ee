"""The blocks of a step template as fields: read one, set one, leaving every other byte alone.

A field's value is the block's text without the line breaks that frame it: the format writes
``{% block sms %}text{% endblock %}`` on one line and the email as
``{% block email %}\\nMarkdown\\n{% endblock %}``. Setting a field keeps the framing the block
already has; a new block gets the format's own.
"""

import re
from dataclasses import dataclass

TAG = re.compile(r"{%-?\s*(?:block\s+(?P<name>\w+)|endblock(?:\s+\w+)?)\s*-?%}")
COMMENT = re.compile(r"{#.*?#}", re.S)
# Blocks written on lines of their own; the others sit on one line with their tags.
FRAMED = frozenset({"email"})
OPTIONAL = frozenset({"sms_discreet", "subject_discreet"})
ORDER = ("sms", "sms_discreet", "subject", "subject_discreet", "email")


@dataclass(frozen=True)
class Block:
    name: str
    start: int  # of the opening tag
    body_start: int
    body_end: int
    end: int  # after the closing tag
    line: int  # of the opening tag, from 1


def find_blocks(source: str) -> dict[str, Block]:
    """The top-level blocks (nested ones belong to their parent's text)."""
    hidden = COMMENT.sub(lambda m: " " * len(m.group()), source)
    found: dict[str, Block] = {}
    stack: list[tuple[str, int, int]] = []
    for tag in TAG.finditer(hidden):
        if tag.group("name"):
            stack.append((tag.group("name"), tag.start(), tag.end()))
            continue
        if not stack:
            continue
        name, start, body_start = stack.pop()
        if not stack and name not in found:
            line = source.count("\n", 0, start) + 1
            found[name] = Block(name, start, body_start, tag.start(), tag.end(), line)
    return found


def read_field(source: str, name: str) -> str | None:
    block = find_blocks(source).get(name)
    if block is None:
        return None
    return _unframe(source[block.body_start:block.body_end])


def set_field(source: str, name: str, value: str | None) -> str:
    """The source with block ``name`` holding ``value``; None (or empty, for an optional
    block) removes the block. Unchanged text returns the source as it was."""
    block = find_blocks(source).get(name)
    if value is None or (value == "" and name in OPTIONAL):
        return source if block is None else _remove(source, block)
    if block is None:
        return _insert(source, name, value)
    body = source[block.body_start:block.body_end]
    if _unframe(body) == value:
        return source
    framed = body.startswith("\n") or (name in FRAMED and not body)
    text = f"\n{value}\n" if framed else value
    return source[:block.body_start] + text + source[block.body_end:]


def new_template(fields: dict[str, str]) -> str:
    """A step template in the format's own layout, with the blocks in their usual order."""
    source = ""
    for name in ORDER:
        if fields.get(name) or name not in OPTIONAL:
            source = _insert(source, name, fields.get(name, ""))
    return source


def _unframe(body: str) -> str:
    if body.startswith("\n") and body.endswith("\n") and len(body) >= 2:
        return body[1:-1]
    return body


def _remove(source: str, block: Block) -> str:
    end = block.end + 1 if source[block.end:block.end + 1] == "\n" else block.end
    return source[:block.start] + source[end:]


def _insert(source: str, name: str, value: str) -> str:
    """After the block it follows in ORDER (a discreet block after its plain one), else at
    the end."""
    text = f"{{% block {name} %}}\n{value}\n{{% endblock %}}\n" if name in FRAMED else \
        f"{{% block {name} %}}{value}{{% endblock %}}\n"
    blocks = find_blocks(source)
    before = [blocks[n] for n in ORDER[:ORDER.index(name)] if n in blocks]
    if not before:
        blocks_after = [blocks[n] for n in ORDER[ORDER.index(name) + 1:] if n in blocks]
        at = min((b.start for b in blocks_after), default=len(source))
        return _splice(source, at, text)
    at = max(b.end for b in before)
    if source[at:at + 1] == "\n":
        at += 1
    return _splice(source, at, text)


def _splice(source: str, at: int, text: str) -> str:
    if at > 0 and source[at - 1:at] != "\n":
        text = "\n" + text
    return source[:at] + text + source[at:]
