"""The channel seam: one tiny interface, chosen by configuration.

``console`` prints, ``file`` appends JSON lines to an outbox file (several processes may share
it), ``memory`` keeps messages in this process (tests). Twilio and SMTP plug in here too, and
``off`` refuses every message of a channel a deployment does not offer.
"""

import fcntl
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from coach.settings import Settings


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: int
    channel: str  # sms | email
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    subscriber_id: int | None = None
    enrolment_id: int | None = None
    kind: str = "nudge"
    language: str = "en"  # the subscriber's: the email footer is written in it


class PermanentFailure(Exception):
    """The provider refused the message for good; the reason is shown to admins."""


class AddressGone(PermanentFailure):
    """The address must get nothing more: opted out at the carrier, or a hard bounce."""


class TemporaryFailure(Exception):
    """Refused before acceptance (rate limit, outage): safe to try again later."""


class NotAttempted(TemporaryFailure):
    """Nothing reached the provider (our own rate limit, a hold-off): no attempt is used up."""


class UnknownOutcome(Exception):
    """The request left but no answer came back: never resend blindly, reconcile."""


class Channel(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Send, returning the provider's id for the message."""
        ...


class LocalChannel:
    """A channel whose send stays on this machine and takes microseconds: a batch's attempts
    and outcomes are each one write, not one a message (coach.delivery.attempts says why that
    is safe). A channel without this is sent one committed attempt at a time."""

    local: ClassVar[bool] = True


class ConsoleChannel(LocalChannel):
    def send(self, message: OutgoingMessage) -> str:
        heading = f"--- {message.channel} to {message.to}"
        if message.subject:
            heading += f" | {message.subject}"
        print(f"{heading}\n{message.text}\n", flush=True)
        return f"console-{uuid.uuid4().hex[:12]}"


@dataclass
class FileChannel(LocalChannel):
    path: Path

    def send(self, message: OutgoingMessage) -> str:
        provider_id = f"file-{uuid.uuid4().hex[:12]}"
        line = json.dumps({**asdict(message), "provider_id": provider_id}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            outbox.write(line)
        return provider_id


@dataclass
class MemoryChannel(LocalChannel):
    sent: ClassVar[list[OutgoingMessage]] = []
    fail_with: list[Exception] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> str:
        if self.fail_with:
            raise self.fail_with.pop(0)
        MemoryChannel.sent.append(message)
        return f"memory-{len(MemoryChannel.sent)}"


@dataclass
class OffChannel(LocalChannel):
    name: str

    def send(self, message: OutgoingMessage) -> str:
        raise PermanentFailure(f"this deployment does not send {self.name} "
                               f"(COACH_{self.name.upper()}_BACKEND=off)")


def channel_for(name: str, settings: Settings) -> Channel:
    backend = settings.backend(name)
    if backend == "twilio":
        from coach.delivery.twilio_sms import twilio_channel

        return twilio_channel(settings)
    if backend == "smtp":
        from coach.delivery.smtp_email import smtp_channel

        return smtp_channel(settings)
    if backend == "file":
        return FileChannel(settings.effective_outbox_file)
    if backend == "memory":
        return MemoryChannel()
    if backend == "off":
        return OffChannel(name)
    return ConsoleChannel()


def check_channels(settings: Settings) -> None:
    """Refuse to start real channels on missing or malformed credentials, saying which."""
    problems: list[str] = []
    if settings.sms_backend == "twilio":
        from coach.delivery.twilio_sms import twilio_problems

        problems += twilio_problems(settings)
    if settings.email_backend == "smtp":
        from coach.delivery.smtp_email import smtp_problems

        problems += smtp_problems(settings)
    if problems:
        raise RuntimeError("channels are not configured: " + "; ".join(problems))


def read_outbox(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
