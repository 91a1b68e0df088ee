"""Shortcuts taken for speed in normalisation and concept tagging read every reply exactly as
the plain way does (checked over the corpus's train and dev replies)."""

import importlib
import re
import unicodedata

import pytest

from coach.inbound.understanding.concepts import lexicon
from coach.inbound.understanding.corpus import read_split
from coach.inbound.understanding.normalise import normalise, plain_words

layer = importlib.import_module("coach.inbound.understanding.normalise")  # the module, not
# the function the package exports under the same name
TEXTS = sorted({row.text for split in ("train", "dev") for row in read_split(split)})


def test_ascii_replies_skip_only_what_cannot_change_them(monkeypatch):
    fast = [normalise(text) for text in TEXTS]
    # the plain way: every reply through the emoji table and the accent removal in full
    monkeypatch.setitem(layer._table(), "emoji_in_ascii", True)
    monkeypatch.setattr(layer, "_without_accents", lambda text: "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)))
    plain = [normalise(text) for text in TEXTS]
    assert fast == plain


@pytest.mark.parametrize("emoticon", [":)", "<3"])
def test_an_ascii_emoticon_added_to_the_table_would_still_be_read(monkeypatch, emoticon):
    table = dict(layer._table())
    words = {**table["emoji_words"], emoticon: "emoji_smile"}
    emoji = sorted(words, key=len, reverse=True)
    table.update(emoji_words=words, emoji=re.compile("|".join(map(re.escape, emoji))),
                 emoji_in_ascii=True)
    monkeypatch.setattr(layer, "_table", lambda: table)
    assert "emoji_smile" in normalise(f"great week {emoticon}")


def _tag_plainly(words):
    """Lexicon.tag as first written: every phrase length and stem length at every word."""
    lex = lexicon()
    found = []
    for i in range(len(words)):
        for size in range(1, min(lex.longest, len(words) - i) + 1):
            concepts = lex.phrases.get(tuple(words[i:i + size]))
            if concepts:
                found.extend((i, c) for c in concepts)
        for length in lex.stem_lengths:
            if length <= len(words[i]):
                concepts = lex.stems.get(words[i][:length])
                if concepts:
                    found.extend((i, c) for c in concepts)
    return found


def test_concept_tagging_finds_what_trying_every_length_finds():
    for text in TEXTS:
        words = plain_words(normalise(text))
        assert lexicon().tag(words) == _tag_plainly(words)
