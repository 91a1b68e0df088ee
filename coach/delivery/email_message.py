"""Building one email: a text part that reads on its own, an HTML part with its CSS inlined,
and the headers that route replies, thread a programme and unsubscribe in one click.

Both parts end with the same footer (``templates/email/footer.*.j2``, in the subscriber's
language): what coach is, how to pause or stop, the one-click unsubscribe link and a link to
the subscriber's own manage page, made afresh for each email so it works for 30 days from it.

The domain in Message-ID, Reply-To, References and the unsubscribe mailto is the reply domain
(``COACH_EMAIL_REPLY_DOMAIN``, else the domain of ``COACH_EMAIL_FROM``).
"""

import re
import secrets
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from functools import lru_cache

import css_inline
from jinja2 import Environment, FileSystemLoader, Template

from coach.delivery.channels import OutgoingMessage
from coach.programmes.render import markdown_to_html
from coach.settings import PROJECT_ROOT, Settings
from coach.subscribers.links import manage_url
from coach.subscribers.tokens import make_token

DEFAULT_SUBJECT = "A note from coach"
# templates/email/layout.html.j2 carries these: where the footer goes, and its language.
FOOTER_MARK = "<!--coach:footer-->"
LAYOUT_LANGUAGE = '<html lang="en">'
EMAIL_TEMPLATES = PROJECT_ROOT / "templates" / "email"
SIGNATURE_LINE = "\n\n-- \n"  # reply parsers drop what follows it
EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
LINK = re.compile(r"\[([^\]]+)\]\((\S+?)\)")
# People's words are Markdown-escaped in the email body (coach.programmes.sandbox).
BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def build_email(message: OutgoingMessage, settings: Settings,
                now: datetime | None = None) -> EmailMessage:
    """``now`` (the moment it is sent) dates the email and its manage link."""
    now = now or datetime.now(UTC)
    domain = mail_domain(settings)
    email = EmailMessage(policy=SMTP)
    email["From"] = settings.email_from
    email["To"] = message.to
    email["Subject"] = " ".join((message.subject or DEFAULT_SUBJECT).split())
    email["Date"] = format_datetime(now, usegmt=True)
    email["Message-ID"] = message_id(message.delivery_id, domain)
    # Tell vacation responders not to answer (RFC 3834): an out-of-office reply would
    # otherwise arrive at reply+TOKEN and read as an answer to a check-in.
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    _routing_headers(email, message, settings, domain)
    _set_parts(email, message, settings, now)
    return email


def _set_parts(email: EmailMessage, message: OutgoingMessage, settings: Settings,
               now: datetime) -> None:
    """The text part and the HTML part, each ending with the footer and the person's links
    (an email to staff names nobody's subscription: it has no manage link)."""
    unsubscribe = unsubscribe_url(settings, message.subscriber_id)
    manage = None if message.subscriber_id is None else \
        manage_url(settings, message.subscriber_id, now)
    email.set_content(plain_text(message.text, unsubscribe, manage, message.language),
                      cte="quoted-printable")
    page = html_part(message.html or markdown_to_html(message.text), unsubscribe, manage,
                     message.language)
    alternative = EmailMessage(policy=SMTP)
    alternative.set_content(page, subtype="html", cte="quoted-printable")
    del alternative["MIME-Version"]  # a part needs none; add_alternative would leave it in
    email.make_alternative()
    email.attach(alternative)


def _routing_headers(email: EmailMessage, message: OutgoingMessage, settings: Settings,
                     domain: str) -> None:
    if message.enrolment_id is not None:  # one thread per programme
        root = thread_root(message.enrolment_id, domain)
        email["References"] = root
        email["In-Reply-To"] = root
    if message.subscriber_id is None:
        return
    name, _ = sender(settings)
    token = make_token(settings.secret_key, message.subscriber_id, "reply")
    email["Reply-To"] = Address(name, addr_spec=f"reply+{token}@{domain}")
    utoken = make_token(settings.secret_key, message.subscriber_id, "unsubscribe")
    email["List-Unsubscribe"] = (f"<{unsubscribe_url(settings, message.subscriber_id)}>, "
                                 f"<mailto:unsubscribe+{utoken}@{domain}>")
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058


def sender(settings: Settings) -> tuple[str, str]:
    """(display name, address) of ``COACH_EMAIL_FROM``; raises ValueError unless it is one."""
    found = getaddresses([settings.email_from])
    if len(found) != 1 or "@" not in found[0][1]:
        raise ValueError(f"COACH_EMAIL_FROM {settings.email_from!r} is not one email address")
    return found[0]


def mail_domain(settings: Settings) -> str:
    return (settings.email_reply_domain or sender(settings)[1].rpartition("@")[2]).lower()


def message_id(delivery_id: int, domain: str) -> str:
    """Short enough for the outbox's provider id (80 characters) on any usual domain; the
    delivery id first, so a bounce quoting it leads back to the row."""
    return f"<{delivery_id}.{secrets.token_hex(8)}@{domain}>"


def thread_root(enrolment_id: int, domain: str) -> str:
    return f"<enrolment-{enrolment_id}@{domain}>"


def unsubscribe_url(settings: Settings, subscriber_id: int | None) -> str:
    base = settings.public_url.rstrip("/")
    if subscriber_id is None:
        return base
    return f"{base}/unsubscribe/{make_token(settings.secret_key, subscriber_id, 'unsubscribe')}"


def plain_text(markdown: str, unsubscribe: str, manage: str | None = None,
               language: str = "en") -> str:
    """The Markdown body as plain text (it reads well already), without ** emphasis or
    backslash escapes, and the same honest footer as the HTML after a signature line, so reply
    parsers drop it."""
    body = LINK.sub(r"\1 (\2)", EMPHASIS.sub(r"\2", markdown))
    body = BACKSLASH_ESCAPE.sub(r"\1", body).strip()
    footer = _footer("txt", language).render(unsubscribe_url=unsubscribe, manage_url=manage)
    return f"{body}{SIGNATURE_LINE}{footer.strip()}\n"


def html_part(page: str, unsubscribe: str, manage: str | None = None,
              language: str = "en") -> str:
    footer = _footer("html", language).render(unsubscribe_url=unsubscribe, manage_url=manage)
    page = page.replace(FOOTER_MARK, footer.strip(), 1)
    if language in _footer_languages():
        page = page.replace(LAYOUT_LANGUAGE, f'<html lang="{language}">', 1)
    return _inliner().inline(page)


def _footer(kind: str, language: str) -> Template:
    """The footer in the subscriber's language where it has one (``es/footer.txt.j2``),
    else in English."""
    name = f"footer.{kind}.j2"
    if language in _footer_languages():
        name = f"{language}/{name}"
    return _footers(kind).get_template(name)


@lru_cache
def _footer_languages() -> frozenset[str]:
    """Languages besides English with a footer: the folders of templates/email/."""
    return frozenset(path.name for path in EMAIL_TEMPLATES.iterdir() if path.is_dir())


@lru_cache
def _footers(kind: str) -> Environment:
    return Environment(loader=FileSystemLoader(EMAIL_TEMPLATES), autoescape=kind == "html")


@lru_cache
def _inliner() -> css_inline.CSSInliner:
    # Mail clients drop <style> blocks; nothing is fetched from the network.
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
