"""POST /hooks/email/inbound: a reply is routed by its token (else its sender), only the
person's own words are recorded, once; anything else is dropped or refused and stores nothing."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.delivery.channels import MemoryChannel
from coach.inbound.models import Reply
from coach.settings import Settings, get_settings
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import make_token
from coach.web import hooks_email
from coach.web.app import create_app
from tests.conftest import START
from tests.email_in.conftest import HOOK, SAM, SECRET, email, post, reply_to
from tests.helpers import enrol
from tests.web.support import Clock, Enqueue, enrolment_of, row_counts, run_until_checkin

ANSWER = "Keeping small promises, on time."
QUOTED = f"""{ANSWER}

--
Sam Example
07911 123456

On Mon, 9 Mar 2026 at 18:30, coach <coach@coach.example> wrote:
> What does trust mean to you, in a sentence?
> Reply with a few words.
"""


def checkin(settings: Settings, factory: sessionmaker[Session], clock: Clock) -> int:
    """Sam, enrolled by email, with the first check-in just sent (it saves trust_means)."""
    subscriber_id = enrol(factory, START)
    clock.now = run_until_checkin(settings, factory, subscriber_id)
    return subscriber_id


def replies(factory: sessionmaker[Session]) -> list[Reply]:
    with factory() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


def test_a_reply_routed_by_its_token_is_the_check_in_answer(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = checkin(mail_settings, factory, clock)
    # Sent from another address of Sam's: only the token says who it is.
    message = email(QUOTED, sender="Sam at work <sam@work.example.net>",
                    to=f"coach <{reply_to(mail_settings, subscriber_id)}>")
    response = post(client, message)
    assert (response.status_code, response.json()) == (200, {"result": "reply"})
    [reply] = replies(factory)
    assert (reply.subscriber_id, reply.channel, reply.text) == (subscriber_id, "email", ANSWER)
    assert reply.provider_id == "<reply-1@mail.example.org>"
    assert enrolment_of(factory, subscriber_id).answers == {"trust_means": ANSWER}


def test_without_a_token_the_sender_routes_the_reply(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = checkin(mail_settings, factory, clock)
    body = "4\n\nSent from my iPhone\n\n> On 9 Mar 2026, at 18:30, coach wrote:\n> How was it?\n"
    response = post(client, email(body))
    assert response.json() == {"result": "reply"}
    [reply] = replies(factory)
    assert (reply.subscriber_id, reply.text) == (subscriber_id, "4")


def test_a_reply_written_below_the_quote_keeps_only_the_new_lines(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    checkin(mail_settings, factory, clock)
    body = "On Mon, 9 Mar 2026 at 18:30, coach wrote:\n> How was it?\n\nBetter than I thought.\n"
    post(client, email(body))
    assert [r.text for r in replies(factory)] == ["Better than I thought."]


def test_a_forged_token_falls_back_to_the_sender(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = checkin(mail_settings, factory, clock)
    forged = f"reply+{subscriber_id + 1}-0123456789abcdef@coach.example"
    assert post(client, email(ANSWER, to=forged)).json() == {"result": "reply"}
    assert [r.subscriber_id for r in replies(factory)] == [subscriber_id]


def test_a_forged_token_from_a_stranger_is_dropped(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = checkin(mail_settings, factory, clock)
    token = make_token("not our secret", subscriber_id, "reply")
    before = row_counts(factory)
    message = email(ANSWER, sender="mallory@example.net", to=f"reply+{token}@coach.example")
    response = post(client, message)
    assert (response.status_code, response.json()) == (202, {"result": "dropped"})
    assert row_counts(factory) == before


def test_an_unknown_sender_is_dropped_with_a_log_line_but_not_the_words(
    client: TestClient, factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    enrol(factory, START)
    before = row_counts(factory)
    with caplog.at_level("INFO"):
        response = post(client, email("my private thoughts", sender="nobody@example.net"))
    assert response.status_code == 202
    assert row_counts(factory) == before
    assert "dropped" in caplog.text and "not a subscriber" in caplog.text
    assert "private" not in caplog.text


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
    client: TestClient, factory: sessionmaker[Session], secret: str | None
) -> None:
    enrol(factory, START)
    before = row_counts(factory)
    response = post(client, email(ANSWER), secret=secret)
    assert response.status_code == 403
    assert "secret" in response.text
    assert row_counts(factory) == before


def test_the_secret_may_come_as_the_basic_auth_password(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    enrol(factory, START)
    response = post(client, email("hello"), secret=None, auth=("mail-service", SECRET))
    assert response.json() == {"result": "reply"}
    assert post(client, email("again", message_id="<2@x>"), secret=None,
                auth=("mail-service", "wrong")).status_code == 403


def test_without_a_configured_secret_the_hook_says_so(
    mail_settings: Settings, published: None, factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch, enqueue: Enqueue,
) -> None:
    monkeypatch.setenv("COACH_INBOUND_EMAIL_SECRET", "")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings(), enqueue)) as unconfigured:
        response = post(unconfigured, email(ANSWER), secret="")
    assert response.status_code == 503
    assert "COACH_INBOUND_EMAIL_SECRET" in response.text


def test_the_same_message_posted_twice_is_recorded_once(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    checkin(mail_settings, factory, clock)
    assert post(client, email(QUOTED)).json() == {"result": "reply"}
    assert post(client, email(QUOTED)).json() == {"result": "duplicate"}
    assert len(replies(factory)) == 1


def test_an_html_only_reply_is_read_as_text(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    subscriber_id = checkin(mail_settings, factory, clock)
    html = ('<html><head><style>p { color: red }</style></head><body>'
            '<div dir="ltr">Being <b>there</b> for&nbsp;each other</div><br>'
            '<div class="gmail_quote"><div>On Mon, 9 Mar 2026 at 18:30, coach '
            '&lt;coach@coach.example&gt; wrote:</div>'
            '<blockquote>What does trust mean to you?</blockquote></div></body></html>')
    post(client, email(html, html=True))
    assert [r.text for r in replies(factory)] == ["Being there for each other"]
    assert enrolment_of(factory, subscriber_id).answers == {
        "trust_means": "Being there for each other"}


@pytest.mark.parametrize("as_file", [False, True], ids=["text field", "file"])
def test_the_message_may_come_as_the_form_field_email(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock,
    as_file: bool,
) -> None:
    """As inbound-parse services post it: multipart/form-data with the raw message in email."""
    checkin(mail_settings, factory, clock)
    raw = email(QUOTED).as_bytes()
    field = ("message.eml", raw, "message/rfc822") if as_file else (None, raw)
    response = client.post(HOOK, files={"email": field, "to": (None, b"coach@coach.example")},
                           headers={"X-Coach-Secret": SECRET})
    assert response.json() == {"result": "reply"}
    assert [r.text for r in replies(factory)] == [ANSWER]


def test_an_out_of_office_reply_is_not_an_answer(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    checkin(mail_settings, factory, clock)
    before = row_counts(factory)
    message = email("I am away until Monday.", Auto_Submitted="auto-replied")
    assert post(client, message).status_code == 202
    assert row_counts(factory) == before


def test_a_stop_by_email_is_confirmed_through_the_queue(
    client: TestClient, factory: sessionmaker[Session], enqueue: Enqueue, clock: Clock
) -> None:
    enrol(factory, START)
    post(client, email("STOP"))
    [batch] = enqueue.batches
    [confirmation] = [m for m in MemoryChannel.sent if m.delivery_id in batch]
    assert confirmation.to == SAM and "unsubscribed" in (confirmation.subject or "")
    with factory() as session:
        assert session.scalars(select(Subscriber)).one().email_consent is False


def test_mail_to_the_unsubscribe_address_stops_email(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session]
) -> None:
    subscriber_id = enrol(factory, START)
    token = make_token(mail_settings.secret_key, subscriber_id, "unsubscribe")
    message = email("This message was generated to unsubscribe.",
                    to=f"unsubscribe+{token}@coach.example")
    assert post(client, message).json() == {"result": "unsubscribe"}
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.email_consent is False
        assert subscriber.email_consent_source == "unsubscribe by email"
    assert replies(factory) == []


def test_a_request_without_a_message_is_refused(client: TestClient) -> None:
    headers = {"X-Coach-Secret": SECRET}
    assert client.post(HOOK, content=b"", headers=headers).status_code == 400
    assert client.post(HOOK, json={"email": "x"}, headers=headers).status_code == 415


def test_a_message_id_too_long_for_the_column_is_kept_as_a_digest(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], clock: Clock
) -> None:
    checkin(mail_settings, factory, clock)
    long_id = f"<{'x' * 100}@mail.example.org>"
    assert post(client, email(ANSWER, message_id=long_id)).json() == {"result": "reply"}
    assert post(client, email(ANSWER, message_id=long_id)).json() == {"result": "duplicate"}
    [reply] = replies(factory)
    assert reply.provider_id is not None and reply.provider_id.startswith("sha256:")


def test_a_failure_while_storing_answers_500_without_the_words_in_the_log(
    client: TestClient, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The service retries a 500, and a retry is recognised by its Message-ID."""
    enrol(factory, START)

    def broken(*args: object) -> None:
        raise RuntimeError("INSERT INTO replies ... ('my private words')")

    monkeypatch.setattr(hooks_email, "receive_email", broken)
    response = post(client, email("my private words"))
    assert response.status_code == 500
    assert "RuntimeError" in caplog.text and "private" not in caplog.text
