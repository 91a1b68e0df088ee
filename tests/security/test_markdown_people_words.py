"""Issue 6, item 4: people's words quoted in coach's own emails stay words.

An answer such as ``[verify here](https://evil.example/login)`` must not become a live link in an
email from coach, nor ``![](https://tracker…)`` a remote image. Every ``{{ expression }}`` in the
email block is Markdown-escaped; the admin's own Markdown is left as written; SMS and subject
are plain text and left alone.
"""

import re

import pytest

from coach.delivery.email_message import plain_text
from coach.programmes.render import render_message, render_step

HOSTILE = {
    "link": "[verify here](https://evil.example/login)",
    "image": "![](https://tracker.example/pixel.gif)",
    "autolink": "<https://evil.example/a>",
    "html": '<a href="https://evil.example/b">click</a><img src="https://evil.example/c">',
    "emphasis": "**shouting** and _whispering_ and `code`",
    "heading": "# Not a heading\n> not a quote\n1. not a list",
    "reference": "[x][1]\n\n[1]: https://evil.example/ref",
    "entity": "&lt;b&gt; &amp; &copy;",
}

STEP_SOURCE = """\
{% block sms %}You said: {{ answers.said }}{% endblock %}
{% block subject %}About {{ name }}{% endblock %}
{% block email %}
Hi {{ name }}, this is **bold** and [our page](https://coach.example/help).

You said: "{{ answers.said }}"
{% endblock %}
"""


def step() -> dict[str, object]:
    return {"key": "echo", "template": "steps/echo.j2", "week": 1, "checkin": None,
            "practice": False, "source": STEP_SOURCE}


def render(answer: str, name: str = "Sam"):
    variables = {"name": name, "programme": "Honesty", "quality": "honesty",
                 "answers": {"said": answer}, "other_qualities": []}
    return render_step(step(), variables)


def external_markup(html: str) -> list[str]:
    """Tags that point anywhere but coach's own page and the layout's unsubscribe link."""
    found = re.findall(r"<(?:a|img)\b[^>]*>", html)
    return [tag for tag in found
            if "coach.example/help" not in tag and "%unsubscribe_url%" not in tag]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_an_answer_is_never_markup_in_the_email(kind: str) -> None:
    rendered = render(HOSTILE[kind])
    assert external_markup(rendered.html) == []
    assert "<strong>bold</strong>" in rendered.html  # the admin's Markdown still works
    assert '<a href="https://coach.example/help">our page</a>' in rendered.html


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_answer_reads_as_written_in_every_part(kind: str) -> None:
    answer = HOSTILE[kind]
    rendered = render(answer)
    text = plain_text(rendered.text, "https://coach.example/u/1")
    assert f'You said: "{answer}"' in text  # no backslashes left in the text part
    assert "this is bold and our page (https://coach.example/help)" in text
    assert rendered.sms == f"You said: {answer}"  # SMS is plain text: untouched


def test_the_link_text_and_target_show_literally_in_the_html() -> None:
    html = render(HOSTILE["link"]).html
    assert "[verify here](https://evil.example/login)" in html


def test_a_name_is_words_too() -> None:
    rendered = render("fine", name="[Sam](https://evil.example)")
    assert external_markup(rendered.html) == []
    assert rendered.subject == "About [Sam](https://evil.example)"


def test_system_messages_escape_the_same_way() -> None:
    question = "Did [this](https://evil.example) help?"
    rendered = render_message("reminder", {"name": "![x](https://t.example/p)",
                                           "question": question, "week": 2,
                                           "programme": "Honesty"})
    assert external_markup(rendered.html) == []
    text = plain_text(rendered.text, "https://coach.example/u/1")
    assert "Hi ![x](https://t.example/p)," in text
    assert question in text
