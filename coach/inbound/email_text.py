"""The person's own words in an email: the text/plain part (or the HTML one as text), without
quoted text or a signature. Pure: a parsed message in, text out."""

import re
from email.message import EmailMessage
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

# Mail clients write "On ... wrote:" in their user's language, not ours.
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs"]
MAX_BODY_CHARS = 20_000  # read no further: the newest words come first, and parsing is costly
# The reply parser's patterns take time cubic in a line's length ("On " * 4,000: 4 s; 33,000:
# 4 min). No "On ... wrote:" line is this long, so longer lines pass it by, as placeholders.
MAX_LINE_CHARS = 500
PLACEHOLDER = re.compile("\x00([0-9]+)\x00")


def reply_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except LookupError:  # a charset Python does not know: read it as UTF-8
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    content = content[:MAX_BODY_CHARS]
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return strip_quoted(content)


def strip_quoted(text: str) -> str:
    """The newest reply above any "On ... wrote:" header, without its signature; lines quoted
    with ">" go too (what remains of a reply written below the quote)."""
    long_lines: list[str] = []
    short = "\n".join(_set_aside(line, long_lines) for line in text.replace("\x00", "")
                      .splitlines())
    replies = EmailReplyParser(languages=LANGUAGES).read(short).replies
    newest = replies[0].body if replies else short
    kept = "\n".join(line for line in newest.splitlines() if not line.lstrip().startswith(">"))
    return PLACEHOLDER.sub(lambda found: long_lines[int(found.group(1))], kept).strip()


def _set_aside(line: str, long_lines: list[str]) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    long_lines.append(line)
    return f"\x00{len(long_lines) - 1}\x00"


def html_to_text(html: str) -> str:
    reader = _HtmlText()
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _HtmlText(HTMLParser):
    """Visible text with line breaks where blocks end; quoted replies and styles left out."""

    SKIP = frozenset({"blockquote", "head", "script", "style", "title"})
    BREAK = frozenset({"br", "div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAK and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))
