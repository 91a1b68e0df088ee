"""One settings object, read from ``COACH_*`` environment variables.

Defaults are the embedded ones (SQLite, a SQLite-backed broker, console channels), so a fresh
clone runs with nothing installed. Nothing here is created at import time: call
:func:`get_settings`.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "dev-only-secret-change-me"
CHANNEL_BACKENDS = ("console", "file", "memory")
SMS_BACKENDS = (*CHANNEL_BACKENDS, "twilio")
EMAIL_BACKENDS = (*CHANNEL_BACKENDS, "smtp")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COACH_", extra="ignore")

    env: str = "development"  # development | test | production
    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    broker_url: str = ""
    secret_key: str = DEFAULT_SECRET
    programmes_dir: Path = PROJECT_ROOT / "templates" / "programmes"
    sms_backend: str = "console"
    email_backend: str = "console"
    outbox_file: Path | None = None
    sweep_interval_seconds: float = 60.0
    sweep_batch_size: int = 500
    # Sweeps of one moment that may run at once when much is due: about the worker processes.
    sweep_parallelism: int = 2
    send_batch_size: int = 100
    # Real channels. The public URL is the base Twilio and mail clients see (behind a proxy too).
    public_url: str = "http://127.0.0.1:8000"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = ""  # where the SDK's requests go: a local peer or a proxy
    sms_rate_per_second: float = 1.0  # per sender, shared by every worker through Redis
    rate_limit_redis_url: str = ""  # defaults to the broker when that is Redis
    smtp_url: str = ""  # smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465
    email_from: str = "coach <coach@localhost>"
    email_reply_domain: str = ""  # replies go to reply+TOKEN@this; defaults to email_from's
    inbound_email_secret: str = ""
    imap_url: str = ""  # imaps://user:pass@host/INBOX, polled when set
    default_send_time: str = "18:00"
    default_quiet_start: str = "21:00"
    default_quiet_end: str = "08:00"

    @field_validator("sms_backend")
    @classmethod
    def _known_sms_backend(cls, value: str) -> str:
        if value not in SMS_BACKENDS:
            raise ValueError(f"unknown SMS backend {value!r}; use one of {SMS_BACKENDS}")
        return value

    @field_validator("email_backend")
    @classmethod
    def _known_email_backend(cls, value: str) -> str:
        if value not in EMAIL_BACKENDS:
            raise ValueError(f"unknown email backend {value!r}; use one of {EMAIL_BACKENDS}")
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'coach.sqlite3'}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite3'}"

    @property
    def effective_outbox_file(self) -> Path:
        return self.outbox_file or self.data_dir / "outbox.jsonl"

    def check_production_ready(self) -> None:
        """Refuse to run in production on development defaults."""
        if self.env != "production":
            return
        problems = []
        if self.secret_key == DEFAULT_SECRET:
            problems.append("set COACH_SECRET_KEY to a long random value")
        if not self.database_url:
            problems.append("set COACH_DATABASE_URL (PostgreSQL in production)")
        if not self.broker_url:
            problems.append("set COACH_BROKER_URL (Redis in production)")
        if problems:
            raise RuntimeError("not ready for production: " + "; ".join(problems))


    def check_channels(self) -> None:
        """Refuse to start real channels on missing or malformed credentials, saying which."""
        problems: list[str] = []
        if self.sms_backend == "twilio":
            from coach.delivery.twilio_sms import twilio_problems

            problems += twilio_problems(self)
        if self.email_backend == "smtp":
            from coach.delivery.smtp_email import smtp_problems

            problems += smtp_problems(self)
        if problems:
            raise RuntimeError("channels are not configured: " + "; ".join(problems))


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
