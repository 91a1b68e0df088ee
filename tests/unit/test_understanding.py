"""The whole step: safety first in every context, commands only when unambiguous, answers kept
as answers. Examples written here, never taken from the corpus's test split."""

import pytest

from coach.inbound.understanding import CATEGORIES, INTENTS, RISKS, Understood, understand


@pytest.mark.parametrize("context", ["scale", "text", "none"])
@pytest.mark.parametrize("text, category", [
    ("i really want to die", "suicide_self_harm"),
    ("kms", "suicide_self_harm"),
    ("he choked me yesterday", "partner_violence"),
    ("i said no but he didnt stop", "sexual_coercion"),
    ("my ex is stalking me", "stalking_fear"),
    ("my mum collapsed and isnt breathing", "other"),
    ("me quiero morir", "suicide_self_harm"),
    ("mi novio me pegó anoche", "partner_violence"),
])
def test_danger_is_flagged_in_every_context(text, category, context):
    read = understand(text, context=context)
    assert read.risk == "urgent" and read.category == category


@pytest.mark.parametrize("text", [
    "dying to try the next one", "this week killed me lol", "my back hurts me",
    "me muero de risa", "i could murder a pizza", "the pie was to die for",
])
def test_idioms_are_not_danger(text):
    assert understand(text, context="text").risk == "none"


def test_a_joke_about_suicide_is_still_flagged_as_concern():
    read = understand("one more meeting and ill kms lol", context="text")
    assert (read.risk, read.category) == ("concern", "suicide_self_harm")


@pytest.mark.parametrize("text", [
    "STOP", "please stop texting me", "opt out", "remove me", "no more messages",
    "unsubscribe me please", "i never signed up for this. stop", "ALTO", "PARAR", "BAJA",
    "CANCELAR", "dejen de escribirme", "cancel my subscription", "how can i opt out?",
    "dont message me again", "not interested", "no me escriban más", "quiero darme de baja",
])
def test_opt_outs(text):
    assert understand(text).intent == "stop"


@pytest.mark.parametrize("text", [
    "stop it you're funny", "I can't stop smiling", "don't stop the messages",
    "we stopped arguing", "no more interrupting for me", "unsubscribed from newsletters",
    "para mí la honestidad es importante", "waited at the bus stop", "he won't stop texting me",
    "no para de escribirme",
])
def test_look_alikes_are_not_opt_outs(text):
    assert understand(text, context="text").intent != "stop"


@pytest.mark.parametrize("text, intent", [
    ("AYUDA", "help"), ("PAUSA", "pause"), ("SEGUIR", "resume"), ("REANUDAR", "resume"),
    ("START", "start"), ("HELP", "help"), ("take a break", "pause"), ("I'm back", "resume"),
    ("carry on", "resume"), ("im ready", "ready"), ("SLOWER", "slower"), ("LISTO", "ready"),
])
def test_commands_in_english_and_spanish(text, intent):
    assert understand(text, language="es" if text.isupper() else "en").intent == intent


def test_stop_for_a_time_is_a_pause():
    read = understand("stop for a month")
    assert (read.intent, read.days) == ("pause", 30)


@pytest.mark.parametrize("text", [
    "saying the hard things kindly", "being there even when it's hard",
    "slow down and really listen", "it was difficult but i did it",
])
def test_a_free_text_answer_never_slows_anyone(text):
    assert understand(text, context="text").intent == "answer"


def test_a_low_rating_is_a_rating_and_a_pace_request_keeps_its_number():
    assert understand("2, it was hard", context="scale").intent == "rating"
    read = understand("2. can we slow down please", context="scale")
    assert (read.intent, read.rating) == ("slower", 2)


def test_a_plea_in_danger_is_not_a_help_command():
    read = understand("help me he hit me again")
    assert (read.intent, read.risk) == ("answer", "urgent")


@pytest.mark.parametrize("text, context", [("ok", "scale"), ("?", "none"), ("4", "none"),
                                           ("k", "text")])
def test_content_free_replies_are_unclear(text, context):
    assert understand(text, context=context).intent == "unclear"


def test_the_contract_is_plain_data_and_reasons_never_quote_the_words():
    words = "my partner lies to me about money and i want to die"
    read = understand(words, context="text")
    assert isinstance(read, Understood)
    assert set(read.as_dict()) == {"intent", "risk", "category", "rating", "days", "reasons"}
    assert read.intent in INTENTS and read.risk in RISKS and read.category in CATEGORIES
    assert all(word not in reason for reason in read.reasons for word in ("lies", "money"))


def test_an_unknown_context_says_what_to_use():
    with pytest.raises(ValueError, match="scale, text, none"):
        understand("hi", context="later")


@pytest.mark.parametrize("text", [
    "STOP 🙏", "unsubscribe pls x", "BAJA 🙏", "stop it. i never asked for this",
    "how do i make these stop?", "dame de baja xfa",
])
def test_opt_outs_with_emoji_kisses_and_more_wordings(text):
    assert understand(text, language="es" if "baja" in text.lower() else "en").intent == "stop"


def test_a_wish_to_be_out_of_life_is_danger_and_not_an_opt_out():
    read = understand("i want out of this life")
    assert read.intent != "stop" and read.risk != "none"


@pytest.mark.parametrize("text", [
    "cut my finger chopping onions", "the stalker in that podcast was terrifying",
    "my cat stalks me around the flat", "mi suegra me va a matar cuando vea la casa",
])
def test_a_softener_sets_an_ordinary_match_aside(text):
    assert understand(text, context="text").risk == "none"


def test_a_softener_leaves_real_danger_alone():
    assert understand("i cut myself again last night").risk == "urgent"
    assert understand("my ex is outside my house right now").risk == "urgent"
