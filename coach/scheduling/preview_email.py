"""A previewed step's email as coach/delivery/email_message.py builds it: the plain-text part
and the HTML part with the footer, in the persona's language. The links are marked as a
preview's: they lead nowhere and act as nobody."""

from coach.delivery.email_message import html_part, plain_text
from coach.programmes.preview import Message
from coach.settings import get_settings

PREVIEW_PATH = "/preview-only"


def email_parts(message: Message, language: str = "en") -> tuple[str, str]:
    """(HTML, plain text) of the email a previewed message would be sent as."""
    base = get_settings().public_url.rstrip("/") + PREVIEW_PATH
    unsubscribe, manage = f"{base}/unsubscribe", f"{base}/manage"
    return (html_part(message.html, unsubscribe, manage, language),
            plain_text(message.markdown, unsubscribe, manage, language))
