"""Every email's footer: the one-click unsubscribe link and a fresh link to the subscriber's
own manage page, in the text and the HTML part, in the subscriber's language."""

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from coach.delivery.channels import OutgoingMessage
from coach.delivery.email_message import build_email
from coach.programmes.render import markdown_to_html
from coach.subscribers.links import MANAGE_FOR, read_link_token
from tests.channels_email.conftest import PUBLIC_URL, SECRET, Server, mail_settings
from tests.channels_email.test_message import BODY, part, send

NOW = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)
MANAGE_LINK = re.compile(re.escape(PUBLIC_URL) + r"/manage/([A-Za-z0-9._-]+)")


def outgoing(language: str = "en", subscriber_id: int | None = 3) -> OutgoingMessage:
    return OutgoingMessage(11, "email", "sam@example.org", BODY, "A small kindness",
                           markdown_to_html(BODY), subscriber_id, 5, language=language)


def built(tmp_path: Path, message: OutgoingMessage) -> EmailMessage:
    return build_email(message, mail_settings(tmp_path, "smtp://127.0.0.1:25"), NOW)


def manage_tokens(text: str) -> list[str]:
    return MANAGE_LINK.findall(text)


def test_the_text_part_links_to_the_manage_page_beside_unsubscribe(server: Server,
                                                                   tmp_path: Path) -> None:
    text = part(send(server, tmp_path, outgoing())[1], "plain")
    footer = text.partition("\n-- \n")[2]
    assert f"Unsubscribe in one click: {PUBLIC_URL}/unsubscribe/3-" in footer
    [token] = manage_tokens(footer)
    assert f"Manage your subscription: {PUBLIC_URL}/manage/{token}\n" in footer


def test_the_html_part_links_to_the_manage_page_beside_unsubscribe(server: Server,
                                                                   tmp_path: Path) -> None:
    page = part(send(server, tmp_path, outgoing())[1], "html")
    assert "unsubscribe in one click</a>" in page
    found = re.search(r'<a href="([^"]+)" style="color: #777777;">Manage your subscription</a>',
                      page)
    assert found, page
    [token] = manage_tokens(found.group(1))
    assert read_link_token(SECRET, "manage", token) is not None
    assert "<!--" not in page.partition('class="footer"')[2], "the footer's marker is replaced"


def test_the_manage_token_names_the_subscriber_is_fresh_and_is_for_manage_only(
    tmp_path: Path
) -> None:
    email = built(tmp_path, outgoing())
    tokens = {t for kind in ("plain", "html") for t in manage_tokens(part(email, kind))}
    [token] = tokens  # the same link in both parts
    link = read_link_token(SECRET, "manage", token)
    assert link is not None and link.ident == 3
    assert link.made_at == NOW, "made when the email is built, with that send's clock"
    assert not link.expired(NOW + MANAGE_FOR, MANAGE_FOR)
    assert link.expired(NOW + MANAGE_FOR + timedelta(seconds=1), MANAGE_FOR)
    for other in ("confirm", "erase", "unsubscribe"):
        assert read_link_token(SECRET, other, token) is None
    assert read_link_token("another-secret-that-is-long-enough-too", "manage", token) is None


def test_each_email_gets_a_link_made_when_it_is_sent(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, "smtp://127.0.0.1:25")
    first = part(build_email(outgoing(), settings, NOW), "plain")
    later = part(build_email(outgoing(), settings, NOW + timedelta(days=3)), "plain")
    [old], [new] = manage_tokens(first), manage_tokens(later)
    assert old != new
    link = read_link_token(SECRET, "manage", new)
    assert link is not None and link.made_at == NOW + timedelta(days=3)


def test_a_spanish_subscriber_gets_the_footer_in_spanish(tmp_path: Path) -> None:
    email = built(tmp_path, outgoing(language="es"))
    text, page = part(email, "plain"), part(email, "html")
    footer = text.partition("\n-- \n")[2]
    assert "coach es coaching, no terapia." in footer
    assert "ALTO" in footer and "PAUSA" in footer
    assert f"Date de baja con un clic: {PUBLIC_URL}/unsubscribe/3-" in footer
    [token] = manage_tokens(footer)
    assert f"Gestiona tu suscripción: {PUBLIC_URL}/manage/{token}" in footer
    assert "Reply PAUSE" not in text and "Manage your subscription" not in text
    assert '<html lang="es">' in page
    assert "Gestiona tu suscripción</a>" in page and "darte de baja con un clic</a>" in page
    assert "not therapy" not in page
    assert manage_tokens(page) == [token]


def test_an_unknown_language_falls_back_to_english(tmp_path: Path) -> None:
    text = part(built(tmp_path, outgoing(language="fr")), "plain")
    assert "Manage your subscription: " in text


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_email_to_staff_carries_no_manage_link(tmp_path: Path, language: str) -> None:
    """An alert to the safety address names nobody's subscription."""
    email = built(tmp_path, outgoing(language, subscriber_id=None))
    for kind in ("plain", "html"):
        assert "/manage/" not in part(email, kind)
        assert "anage your subscription" not in part(email, kind)
