"""Email by SMTP, configured by one URL:

    smtp://host:25                       plain, for a local relay (no login)
    smtp+starttls://user:pass@host:587   STARTTLS, then login
    smtps://user:pass@host:465           implicit TLS, then login
    ...?timeout=20                       seconds allowed for each network step (default 60)

User and password are URL-encoded. Certificates are checked against the system's trust store
(``SSL_CERT_FILE`` names another, for a private CA).

A message goes in steps (MAIL, RCPT, DATA, the message, the final reply), so a failure is
placed exactly: anything before the end-of-data mark left us cannot have been accepted and is
retried; a connection lost while waiting for the final reply is an unknown outcome, never
resent blindly.
"""

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

from coach.delivery.channels import (
    AddressGone,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.email_message import build_email, mail_domain, message_id, sender
from coach.settings import Settings

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_TIMEOUT = 60.0
PROVIDER_ID_LENGTH = 80  # the outbox's provider_id column holds the Message-ID
EXAMPLE = "smtp+starttls://user:password@smtp.example.org:587"
# A hard bounce: the address itself is bad, so nothing more goes to it (RFC 3463 codes).
GONE_CODES = (550, 551, 553)
GONE_STATUSES = {"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"}
ENHANCED_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")
NO_SUCH_USER = re.compile(r"no such|unknown|does ?n[o']t exist|not found|"
                          r"invalid (recipient|mailbox|address)|disabled|deactivated", re.I)


@dataclass(frozen=True)
class Relay:
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str) -> Relay:
    """The relay a URL names; ValueError says what is wrong (never quoting the password)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise ValueError("COACH_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://,"
                         f" like {EXAMPLE}")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError("COACH_SMTP_URL has a port that is not a number from 1 to 65535") \
            from None
    if not parts.hostname:
        raise ValueError(f"COACH_SMTP_URL names no host; write it like {EXAMPLE}")
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if bool(username) != bool(password):
        raise ValueError("COACH_SMTP_URL gives a user without a password (or the reverse)")
    if username and parts.scheme == "smtp":
        raise ValueError("COACH_SMTP_URL would send its password unencrypted over smtp://; "
                         "use smtp+starttls:// or smtps://")
    return Relay(parts.scheme, parts.hostname, port, username, password, _timeout(parts.query))


def _timeout(query: str) -> float:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"timeout"})
    if unknown:
        raise ValueError(f"COACH_SMTP_URL has unknown options {unknown}; only timeout is known")
    try:
        seconds = float(options.get("timeout", [DEFAULT_TIMEOUT])[-1])
    except ValueError:
        seconds = 0
    if not 0 < seconds <= 600:
        raise ValueError("COACH_SMTP_URL timeout must be a number of seconds from 0 to 600")
    return seconds


def smtp_problems(settings: Settings) -> list[str]:
    """Every reason the SMTP channel cannot start, each saying what to set."""
    problems = []
    if not settings.smtp_url:
        problems.append(f"set COACH_SMTP_URL to the mail relay, like {EXAMPLE}")
    else:
        try:
            parse_smtp_url(settings.smtp_url)
        except ValueError as error:
            problems.append(str(error))
    return problems + _address_problems(settings) + _public_url_problems(settings)


def _address_problems(settings: Settings) -> list[str]:
    try:
        address = sender(settings)[1]
        validate_email(address, check_deliverability=False)
    except (ValueError, EmailNotValidError) as error:
        return [f"COACH_EMAIL_FROM {settings.email_from!r} is not an address mail can come "
                f"from ({error}); set it like 'coach <coach@example.org>'"]
    domain = mail_domain(settings)
    try:
        validate_email(f"reply@{domain}", check_deliverability=False)
    except EmailNotValidError as error:
        return [f"COACH_EMAIL_REPLY_DOMAIN {domain!r} is not a mail domain ({error})"]
    if len(message_id(2**31 - 1, domain)) > PROVIDER_ID_LENGTH:
        return [f"the reply domain {domain!r} is too long for Message-IDs the outbox can keep; "
                "set COACH_EMAIL_REPLY_DOMAIN to a shorter one"]
    return []


def _public_url_problems(settings: Settings) -> list[str]:
    parts = urlsplit(settings.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"COACH_PUBLIC_URL {settings.public_url!r} is not a web address; unsubscribe "
                "links start with it"]
    if settings.env == "production" and parts.scheme != "https":
        return ["COACH_PUBLIC_URL must be https:// in production: one-click unsubscribe links "
                "must be HTTPS (RFC 8058)"]
    return []


def smtp_channel(settings: Settings) -> "SmtpChannel":
    return SmtpChannel(parse_smtp_url(settings.smtp_url), settings)


class SmtpChannel:
    """Sends each message on its own connection; inside ``with channel:`` one connection
    serves every send until the block ends. Not for sharing between threads."""

    def __init__(self, relay: Relay, settings: Settings) -> None:
        self.relay, self.settings = relay, settings
        self._smtp: smtplib.SMTP | None = None
        self._keep_open = False

    def __enter__(self) -> "SmtpChannel":
        self._keep_open = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._keep_open = False
        self.close()

    def send(self, message: OutgoingMessage) -> str:
        email = _built(message, self.settings)
        try:
            self._transaction(email, message.to)
        except BaseException:
            self._drop()
            raise
        if not self._keep_open:
            self.close()
        return str(email["Message-ID"])

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _drop(self) -> None:
        """After a failure the session's state is unclear: close without a goodbye."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _transaction(self, email: EmailMessage, to: str) -> None:
        smtp = self._connection()
        try:
            expect(smtp.mail(sender(self.settings)[1]), "MAIL FROM")
            expect(smtp.rcpt(to), "RCPT TO")
            expect(smtp.docmd("DATA"), "DATA", ok=(354,))
        except smtplib.SMTPServerDisconnected as error:
            raise TemporaryFailure("the mail relay closed the connection before the message "
                                   f"was sent: {error}") from None
        _send_data(smtp, email)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and _alive(self._smtp):
            return self._smtp
        self._drop()
        self._smtp = _connect(self.relay)
        return self._smtp


def _built(message: OutgoingMessage, settings: Settings) -> EmailMessage:
    if not message.to.isascii():
        raise PermanentFailure(f"{message.to} needs SMTPUTF8, which coach does not send yet")
    try:
        return build_email(message, settings)
    except ValueError as error:  # a header the email package refuses
        raise PermanentFailure(f"could not build the email: {error}") from None


def _alive(smtp: smtplib.SMTP) -> bool:
    """A kept connection may have been closed by the relay while idle."""
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _connect(relay: Relay) -> smtplib.SMTP:
    """Connected, greeted, encrypted as the URL says and logged in; any failure here is about
    the relay, not the message, so the row waits and tries again."""
    where = f"{relay.host}:{relay.port}"
    try:
        smtp = _open(relay)
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"could not reach the mail relay at {where}: {error}") from None
    try:
        smtp.ehlo()
        if relay.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password)
    except smtplib.SMTPResponseException as error:
        smtp.close()
        raise TemporaryFailure(f"the mail relay at {where} refused us: {error.smtp_code} "
                               f"{_text(error.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as error:
        smtp.close()
        raise TemporaryFailure(f"could not set up a session with {where}: {error}") from None
    return smtp


def _open(relay: Relay) -> smtplib.SMTP:
    if relay.scheme == "smtps":
        return smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout,
                                context=ssl.create_default_context())
    return smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)


def _send_data(smtp: smtplib.SMTP, email: EmailMessage) -> None:
    """The message, the end-of-data mark, and the relay's final answer.

    If sending fails, the mark (the last bytes) never left, and a server delivers nothing
    without it (RFC 5321 4.1.1.4): safe to retry. A lost final answer is not.
    """
    data = _dot_stuffed(email.as_bytes())
    try:
        smtp.send(data)
    except smtplib.SMTPServerDisconnected as error:
        raise TemporaryFailure(f"the connection broke while sending the message, before its "
                               f"end; nothing was accepted: {error}") from None
    try:
        reply = smtp.getreply()
    except smtplib.SMTPServerDisconnected as error:
        raise UnknownOutcome(f"the message was sent but the relay's answer never came: "
                             f"{error}") from None
    expect(reply, "end of DATA")


def _dot_stuffed(data: bytes) -> bytes:
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line
                           for line in data.split(b"\r\n"))
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


# The relay's replies ---------------------------------------------------------------------------

def expect(reply: tuple[int, bytes], step: str, ok: tuple[int, ...] = (250, 251)) -> None:
    code, text = reply
    if code not in ok:
        raise refusal(code, _text(text), step)


def refusal(code: int, text: str, step: str) -> Exception:
    """4xx: try again later; 5xx: failed, with the relay's reason; a bad address: gone.

    A refused MAIL FROM is about our sender or session (a login or STARTTLS the relay wants),
    never this message or person, so like any set-up failure the row waits to be retried.
    """
    reason = f"{step} refused: {code} {text}"
    if 400 <= code < 500 or step == "MAIL FROM":
        return TemporaryFailure(reason)
    if step in ("RCPT TO", "end of DATA") and address_gone(code, text):
        return AddressGone(f"hard bounce: {code} {text}")
    if 500 <= code < 600:
        return PermanentFailure(reason)
    if step == "end of DATA":  # the message went, and the answer makes no sense
        return UnknownOutcome(f"unreadable answer after the message was sent: {code} {text}")
    return TemporaryFailure(f"{step}: unreadable answer {code} {text}")


def address_gone(code: int, text: str) -> bool:
    """550/551/553 for a bad mailbox, by its enhanced status code when the relay gives one
    (5.7.x policy refusals are not), else by the words "no such user" and the like."""
    if code not in GONE_CODES:
        return False
    status = ENHANCED_STATUS.match(text)
    return status.group(0) in GONE_STATUSES if status else bool(NO_SUCH_USER.search(text))


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
