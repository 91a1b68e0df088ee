"""Layer 1: one plain spelling for the many ways people type the same words."""

import pytest

from coach.inbound.understanding.normalise import normalise, plain_words


@pytest.mark.parametrize("text, plain", [
    ("I’M BACK", "im back"),
    ("¿Cómo me doy de baja?", "como me doy de baja"),
    ("“opt-out” please", "opt out please"),
    ("KMS", "kill myself"),
    ("i want to unalive myself", "i want to kill myself"),
    ("idk how 2 keep going", "idk how to keep going"),
    ("rdy 4 the next 1", "ready for the next 1"),
    ("pause 4 2 wks pls", "pause for 2 weeks please"),
    ("od'd last night", "overdosed last night"),
    ("pls stop txting me", "please stop texting me"),
    ("dejen de mandarme msjs xfa", "dejen de mandarme mensajes por favor"),
])
def test_case_accents_quotes_and_text_speak(text, plain):
    assert normalise(text) == plain


@pytest.mark.parametrize("text, plain", [
    ("four", "4"), ("FIVE!!!", "5"), ("a solid three", "a solid 3"),
    ("pausa dos semanas", "pausa 2 semanas"), ("cuatro", "4"),
    ("2 weeks", "2 weeks"), ("a 4 mate", "a 4 mate"), ("2/5", "2/5"),
])
def test_number_words_become_digits_and_numbers_stay_numbers(text, plain):
    assert normalise(text) == plain


@pytest.mark.parametrize("text, plain", [
    ("😭😭", "emoji_sob emoji_sob"),
    ("❤️", "emoji_heart"),
    ("🤷‍♀️", "emoji_shrug"),
    ("👍🏽", "emoji_thumbsup"),
    ("thanks😊", "thanks emoji_smile"),
])
def test_emoji_become_words(text, plain):
    assert normalise(text) == plain


def test_clauses_are_kept_apart_and_marks_dropped():
    assert normalise("stop. not doing this!!") == "stop . not doing this"
    assert normalise("1 - didn't manage it") == "1 . didnt manage it"
    assert plain_words(normalise("stop. not doing this")) == ["stop", "not", "doing", "this"]
    assert normalise("?!") == ""


@pytest.mark.parametrize("text, plain", [
    ("pleaseeee stoppp", "please stop"), ("soooo tired", "so tired"), ("hmmm", "hm"),
    ("mmm", "mmm"), ("jajaja", "jajaja"), ("dnt txt me", "dont text me"),
    ("stop x favor", "stop por favor"),
])
def test_stretched_letters_and_more_text_speak(text, plain):
    assert normalise(text) == plain
