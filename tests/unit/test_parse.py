"""coach.inbound.parse: what a reply means, ignoring case, spacing and punctuation."""

import pytest

from coach.inbound.parse import Intent, normalize, parse


def kind(text: str) -> str:
    return parse(text).kind


def variants(word: str) -> list[str]:
    """The same reply as people really type it."""
    return [word, word.upper(), word.capitalize(), f"  {word}  ", f"{word}.", f"{word}!",
            f"{word}!!!", f"'{word}'", f"“{word}”", f"{word}?", f"\t{word}\n", f"*{word}*"]


def test_normalize_folds_case_space_punctuation_and_apostrophes() -> None:
    assert normalize("  Don't   STOP!!! ") == "dont stop"
    assert normalize("I don’t feel safe.") == "i dont feel safe"
    assert normalize("Pause-for-3-days") == "pause for 3 days"
    assert normalize("") == ""


@pytest.mark.parametrize("word", ["stop", "stopall", "unsubscribe", "cancel", "end", "quit"])
def test_stop_keywords(word: str) -> None:
    for text in variants(word):
        intent = parse(text)
        assert intent.kind == "stop", text
        assert intent.label


@pytest.mark.parametrize("text", ["Stop all", "STOP ALL", "please stop", "Stop please!",
                                  "unsubscribe me", "Stop, thanks"])
def test_short_messages_that_plainly_ask_to_stop(text: str) -> None:
    assert kind(text) == "stop"


@pytest.mark.parametrize("text", ["don't stop", "Don’t stop!", "never stop", "not the end"])
def test_negated_stop_words_are_not_a_stop(text: str) -> None:
    assert kind(text) != "stop"


@pytest.mark.parametrize("text", ["please stop sending me these messages now",
                                  "I will stop by the shop later today"])
def test_a_long_message_containing_stop_is_not_a_carrier_stop(text: str) -> None:
    assert kind(text) != "stop"


@pytest.mark.parametrize("word", ["start", "unstop"])
def test_start_keywords(word: str) -> None:
    for text in variants(word):
        assert kind(text) == "start", text


@pytest.mark.parametrize("word", ["help", "info"])
def test_help_keywords(word: str) -> None:
    for text in variants(word):
        assert kind(text) == "help", text


def test_pause_alone_has_no_days() -> None:
    for text in variants("pause"):
        assert parse(text) == Intent("pause", days=None, label="PAUSE"), text


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("PAUSE 14", 14), ("pause 14", 14), ("Pause 3", 3), ("pause for 3 days", 3),
        ("Pause for 3 days.", 3), ("PAUSE FOR 10 DAYS!", 10), ("pause 1 day", 1),
        ("pause  for  21  days", 21), ("Pause-for-3-days", 3), ("pause 7 days", 7),
        ("pause: 5 days", 5), ("pause 120", 120),
    ],
)
def test_pause_with_days(text: str, days: int) -> None:
    intent = parse(text)
    assert intent.kind == "pause"
    assert intent.days == days


def test_pause_in_a_sentence_is_not_the_keyword() -> None:
    assert kind("I had to pause for breath at work") != "pause"


@pytest.mark.parametrize("word", ["resume"])
def test_resume(word: str) -> None:
    for text in variants(word):
        assert kind(text) == "resume", text


@pytest.mark.parametrize("word", ["slower", "slow", "slow down"])
def test_slower_keyword(word: str) -> None:
    for text in variants(word):
        assert kind(text) == "slower", text


def test_ready_keyword() -> None:
    for text in variants("ready"):
        assert kind(text) == "ready", text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "slower"), ("2", "slower"), ("3", "steady"), ("4", "ready"), ("5", "ready"),
        ("1!", "slower"), (" 2. ", "slower"), ("3.", "steady"), ("4!!", "ready"),
        ("5/5", "ready"), ("3 - ok I guess", "steady"), ("4, good week", "ready"),
        ("2 it was a tough one", "slower"), ("“5”", "ready"),
    ],
)
def test_ratings_one_to_five(text: str, expected: str) -> None:
    intent = parse(text)
    assert intent.kind == expected
    assert intent.label == text.strip(" .!/-“”,")[0]


@pytest.mark.parametrize("text", ["0", "6", "10", "15", "42", "100"])
def test_numbers_outside_one_to_five_are_not_ratings(text: str) -> None:
    assert kind(text) == "words"


@pytest.mark.parametrize(
    "text",
    ["hard", "It was hard.", "it’s hard", "IT'S HARD!", "too hard", "not yet", "Not yet.",
     "nope, not yet", "I'm struggling", "struggled a lot", "Struggling a bit", "difficult",
     "too much this week", "I feel overwhelmed", "stuck", "I can't", "I can’t", "I cant"],
)
def test_struggling_words_mean_slower(text: str) -> None:
    intent = parse(text)
    assert intent.kind == "slower"
    assert intent.label  # a label, never the free text itself
    assert intent.label != text


@pytest.mark.parametrize(
    "text",
    ["not hard at all", "Not hard at all!", "It wasn't hard.", "it wasn’t hard", "not too hard",
     "no, not that difficult", "it isn't hard", "never hard"],
)
def test_negated_struggling_words_are_not_slower(text: str) -> None:
    assert kind(text) == "words"


@pytest.mark.parametrize("text", ["hardly had time", "a hardware problem", "undifficultish"])
def test_words_that_merely_contain_struggling_words_are_not_slower(text: str) -> None:
    assert kind(text) == "words"


@pytest.mark.parametrize(
    "text",
    ["I talked to my sister and it went well", "great week", "nothing to add", "thanks!",
     "Being there for each other", "", "   ", "?!"],
)
def test_other_text_is_words(text: str) -> None:
    intent = parse(text)
    assert intent.kind == "words"
    assert intent.label == "a few words"


DISTRESS = [
    "I want to kill myself", "I want to die", "I wanna die", "I've been thinking of suicide",
    "I feel suicidal", "I keep hurting myself", "I self harm", "I've been self-harming",
    "I cut myself again", "there's no reason to live", "I'd be better off dead",
    "I took an overdose", "he hits me", "She hit me last night", "my boyfriend beats me",
    "he chokes me", "he threatens me", "my partner is abusive", "I was abused",
    "he raped me", "I was assaulted", "I'm afraid of him", "I'm scared of my husband",
    "I don't feel safe", "I don’t feel safe at home", "I DON'T FEEL SAFE!!", "I’m not safe",
    "I feel unsafe", "I want to end my life",
]


@pytest.mark.parametrize("text", DISTRESS)
def test_language_of_distress_or_danger(text: str) -> None:
    intent = parse(text)
    assert intent.kind == "distress"
    assert intent.label  # a label, never the free text itself
    assert intent.label != text


# Common ways of saying the same that the patterns do not cover (see the report).
@pytest.mark.parametrize(
    "text",
    ["he hurt me", "he keeps hurting me", "he is hitting me", "I don't want to live anymore",
     "I'm in danger"],
)
def test_more_everyday_language_of_distress_or_danger(text: str) -> None:
    assert kind(text) == "distress"


@pytest.mark.parametrize("text", ["end it all", "End my life.", "end my life"])
def test_distress_wins_over_a_short_message_starting_with_a_stop_word(text: str) -> None:
    # These match the distress pattern "end (my|it) (life|all)", but begin with "end".
    assert kind(text) == "distress"


@pytest.mark.parametrize(
    "text",
    ["1 I want to die", "2, he hit me", "5 but I don't feel safe", "3 I'm scared of him",
     "4. I cut myself", "1 - I was abused"],
)
def test_distress_wins_over_ratings(text: str) -> None:
    assert kind(text) == "distress"


@pytest.mark.parametrize(
    "text",
    ["it's hard, I want to die", "struggling, he hits me", "not yet. I'm not safe",
     "too much, I keep hurting myself", "It's hard. I’m not safe."],
)
def test_distress_wins_over_struggling_words(text: str) -> None:
    assert kind(text) == "distress"


@pytest.mark.parametrize("text", ["I feel safe with him", "I'm safe", "it was safe to say"])
def test_feeling_safe_is_not_distress(text: str) -> None:
    assert kind(text) != "distress"


def test_ratings_win_over_struggling_words_only_when_first() -> None:
    assert kind("5, though not hard at all") == "ready"
    assert kind("it was hard, 5") == "slower"
