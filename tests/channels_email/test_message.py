"""What a subscriber's mailbox receives: parts, inlined CSS and every header, read back from
a real SMTP server."""

import re
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from coach.delivery.channels import OutgoingMessage
from coach.delivery.smtp_email import smtp_channel
from coach.programmes.render import markdown_to_html
from coach.subscribers.tokens import read_token
from tests.channels_email.conftest import PUBLIC_URL, SECRET, Server, mail_settings

BODY = "Hi Sam, this week **notice one small kindness**.\n\n- try it once\n- then again"


def outgoing(delivery_id: int = 11, enrolment_id: int | None = 5,
             subscriber_id: int | None = 3) -> OutgoingMessage:
    return OutgoingMessage(delivery_id, "email", "sam@example.org", BODY, "A small kindness",
                           markdown_to_html(BODY), subscriber_id, enrolment_id)


def send(server: Server, tmp_path: Path, message: OutgoingMessage, **values: str
         ) -> tuple[str, EmailMessage]:
    message_id = smtp_channel(mail_settings(tmp_path, server.url(), **values)).send(message)
    return message_id, server.relay.received[-1].message


def part(email: EmailMessage, kind: str) -> str:
    found = email.get_body(preferencelist=(kind,))
    assert found is not None, f"no {kind} part"
    return str(found.get_content()).replace("\r\n", "\n")


def token_in(header: str, pattern: str) -> str:
    found = re.search(pattern, header)
    assert found, (pattern, header)
    return found.group(1)


def test_the_message_is_text_and_html_alternatives(server: Server, tmp_path: Path) -> None:
    _, email = send(server, tmp_path, outgoing())
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]
    assert server.relay.received[0].mail_from == "coach@example.org"
    assert server.relay.received[0].rcpt_tos == ["sam@example.org"]


def test_the_text_part_reads_on_its_own(server: Server, tmp_path: Path) -> None:
    text = part(send(server, tmp_path, outgoing())[1], "plain")
    assert "this week notice one small kindness." in text and "**" not in text
    assert "- try it once" in text
    assert "\n-- \ncoach is coaching, not therapy." in text  # a signature line: reply parsers
    assert "Reply PAUSE for a break or STOP" in text       # drop the footer
    assert f"{PUBLIC_URL}/unsubscribe/3-" in text


def test_the_html_part_has_its_css_inlined(server: Server, tmp_path: Path) -> None:
    page = part(send(server, tmp_path, outgoing())[1], "html")
    assert "<style" not in page
    assert '<p style="margin: 0 0 16px;">' in page
    assert "<strong>notice one small kindness</strong>" in page
    assert 'class="card" style="max-width: 560px;' in page
    assert "coaching, not therapy" in page and "%unsubscribe_url%" not in page
    link = token_in(page, r'<a href="([^"]+)" style="color: #777777;">unsubscribe in one click')
    assert link.startswith(f"{PUBLIC_URL}/unsubscribe/3-")


def test_the_headers_identify_route_and_date_the_message(server: Server, tmp_path: Path) -> None:
    message_id, email = send(server, tmp_path, outgoing())
    assert email["From"] == "coach <coach@example.org>"
    assert email["To"] == "sam@example.org"
    assert email["Subject"] == "A small kindness"
    assert parsedate_to_datetime(email["Date"]).tzinfo is not None
    assert email["Message-ID"] == message_id
    assert re.fullmatch(r"<11\.[0-9a-f]{16}@example\.org>", message_id)
    assert len(message_id) <= 80  # the outbox's provider_id
    assert email["Auto-Submitted"] == "auto-generated"  # no out-of-office answers, please


def test_reply_to_carries_a_signed_token_for_the_subscriber(server: Server, tmp_path: Path
                                                            ) -> None:
    email = send(server, tmp_path, outgoing())[1]
    token = token_in(email["Reply-To"], r"<reply\+([^@]+)@example\.org>")
    assert read_token(SECRET, token, "reply") == 3
    assert read_token(SECRET, token, "unsubscribe") is None
    assert email["Reply-To"].startswith("coach <")


def test_a_programme_reads_as_one_thread(server: Server, tmp_path: Path) -> None:
    first_id, first = send(server, tmp_path, outgoing(11))
    second_id, second = send(server, tmp_path, outgoing(12))
    other = send(server, tmp_path, outgoing(13, enrolment_id=6))[1]
    assert first_id != second_id
    assert first["References"] == second["References"] == "<enrolment-5@example.org>"
    assert first["In-Reply-To"] == second["In-Reply-To"] == "<enrolment-5@example.org>"
    assert other["References"] == "<enrolment-6@example.org>"


def test_a_message_outside_a_programme_starts_no_thread(server: Server, tmp_path: Path) -> None:
    email = send(server, tmp_path, outgoing(enrolment_id=None))[1]
    assert email["References"] is None and email["In-Reply-To"] is None


def test_list_unsubscribe_offers_one_click_https_and_mailto(server: Server, tmp_path: Path
                                                            ) -> None:
    email = send(server, tmp_path, outgoing())[1]
    header = " ".join(email["List-Unsubscribe"].split())
    web = token_in(header, r"^<https://coach\.example\.org/unsubscribe/([^>]+)>")
    mail = token_in(header, r", <mailto:unsubscribe\+([^@]+)@example\.org>$")
    assert web == mail and read_token(SECRET, web, "unsubscribe") == 3
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_reply_domain_setting_names_the_domain_for_replies_and_ids(
    server: Server, tmp_path: Path
) -> None:
    message_id, email = send(server, tmp_path, outgoing(), email_reply_domain="in.example.net")
    assert message_id.endswith("@in.example.net>")
    assert "@in.example.net>" in email["Reply-To"]
    assert email["References"] == "<enrolment-5@in.example.net>"
    assert "<mailto:unsubscribe+3-" in email["List-Unsubscribe"]
    assert email["From"] == "coach <coach@example.org>"


def test_without_html_the_channel_renders_the_layout_itself(server: Server, tmp_path: Path
                                                            ) -> None:
    message = OutgoingMessage(1, "email", "sam@example.org", BODY, None, None, 3, 5)
    email = send(server, tmp_path, message)[1]
    assert email["Subject"] == "A note from coach"
    assert "<strong>notice one small kindness</strong>" in part(email, "html")


def test_a_line_starting_with_a_dot_arrives_intact(server: Server, tmp_path: Path) -> None:
    text = "First line\n.\n..two dots\n.one"
    message = OutgoingMessage(1, "email", "sam@example.org", text, "Dots", None, 3, 5)
    email = send(server, tmp_path, message)[1]
    assert part(email, "plain").startswith("First line\n.\n..two dots\n.one\n")
