"""People's words on an operator's terminal: shown as text, never obeyed.

Rich reads ``[...]`` as markup (``[/]`` crashes it, ``[link=…]`` makes a live link) and the
terminal obeys control sequences (``\\x1b[2J`` clears it); bidirectional overrides can make a
line read differently from what it holds. Every word a person gave us goes through
:func:`shown` before it is printed.
"""

import unicodedata

from rich.markup import escape

# Invisible characters that reorder or hide text (Trojan Source, CVE-2021-42574).
BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str | None) -> str:
    """Printable and markup-free: control and reordering characters become visible escapes."""
    return escape("".join(_visible(ch) for ch in text or ""))


def _visible(ch: str) -> str:
    if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in BIDI):
        return ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
