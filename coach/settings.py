"""One settings object, read from ``COACH_*`` environment variables.

Defaults are the embedded ones (SQLite, a SQLite-backed broker, console channels), so a fresh
clone runs with nothing installed. Nothing here is created at import time: call
:func:`get_settings`.
"""

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coach.secrets_check import secret_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "dev-only-secret-change-me"
ENVIRONMENTS = ("development", "test", "production")
# Channels that only print or keep messages: for development and tests, never production.
CHANNEL_BACKENDS = ("console", "file", "memory")
# "off": this deployment does not send on the channel at all (say, email only, no Twilio).
SMS_BACKENDS = (*CHANNEL_BACKENDS, "twilio", "off")
EMAIL_BACKENDS = (*CHANNEL_BACKENDS, "smtp", "off")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused secret must not be printed back in the error.
    model_config = SettingsConfigDict(env_prefix="COACH_", extra="ignore",
                                      hide_input_in_errors=True)

    env: str = "development"  # exactly one of ENVIRONMENTS
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
    # Put before every key coach writes in Redis (the broker's queues, rate limits), so that
    # deployments, or test runs, that share one Redis never touch each other's keys.
    redis_key_prefix: str = ""
    smtp_url: str = ""  # smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465
    email_from: str = "coach <coach@localhost>"
    email_reply_domain: str = ""  # replies go to reply+TOKEN@this; defaults to email_from's
    inbound_email_secret: str = ""
    # Where an urgent reply's alert goes (a monitored inbox of the safety role); without it,
    # flags wait in `coach flags list` and no reply promises that a person will read them.
    safety_email: str = ""
    record_optin_ip: bool = False  # keep the client's IP address with a web sign-up's consent
    # Requests per client (see coach/web/throttle.py), in the ``limits`` notation. Generous
    # where a refusal could lose a real person's message: Twilio and mail providers post
    # many people's messages from few addresses.
    rate_limit_webhooks: str = "6000/minute"
    rate_limit_unsubscribe: str = "300/minute"
    rate_limit_forms: str = "60/minute"
    rate_limit_per_address: str = "10/hour"  # sign-up and link requests naming one address
    imap_url: str = ""  # imaps://user:pass@host/INBOX, polled when set
    inbound_authserv_id: str = ""  # whose Authentication-Results vouch for a From
    # Admin pages (coach/web/admin/): a session ends after this long without a request, and
    # this long after sign-in whatever happens; failed sign-ins (passwords and codes) allowed
    # per account and per client address before the page says when to try again.
    admin_session_idle_minutes: int = 30
    admin_session_hours: int = 12
    admin_login_rate_per_account: str = "5/15 minutes"
    admin_login_rate_per_client: str = "20/15 minutes"
    # Two publishers must agree to publish a draft or roll back (the second approves first).
    publish_two_person: bool = False
    default_send_time: str = "18:00"
    default_quiet_start: str = "21:00"
    default_quiet_end: str = "08:00"

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"COACH_ENV {value!r} is not one of {', '.join(ENVIRONMENTS)}; "
                             "set exactly one of them (lower case, no spaces)")
        return value

    @field_validator("inbound_email_secret")
    @classmethod
    def _strong_inbound_secret(cls, value: str) -> str:
        problem = secret_problem("COACH_INBOUND_EMAIL_SECRET", value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("rate_limit_webhooks", "rate_limit_unsubscribe", "rate_limit_forms",
                     "rate_limit_per_address")
    @classmethod
    def _readable_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate; write it like 60/minute or "
                             "10 per second") from None
        return value

    @field_validator("admin_login_rate_per_account", "admin_login_rate_per_client")
    @classmethod
    def _readable_admin_rate(cls, value: str) -> str:
        return cls._readable_rate(value)

    @field_validator("admin_session_idle_minutes", "admin_session_hours")
    @classmethod
    def _positive_lifetime(cls, value: int) -> int:
        if value < 1:
            raise ValueError("an admin session lifetime must be 1 or more")
        return value

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

    def backend(self, channel: str) -> str:
        """What sends a channel's messages: COACH_SMS_BACKEND or COACH_EMAIL_BACKEND."""
        return self.sms_backend if channel == "sms" else self.email_backend

    def check_production_ready(self) -> None:
        """Refuse to run in production on development defaults, saying what to set."""
        if self.env != "production":
            return
        problems = self.production_problems()
        if problems:
            raise RuntimeError("not ready for production: " + "; ".join(problems))

    def production_problems(self) -> list[str]:
        problems = []
        if self.secret_key == DEFAULT_SECRET:
            problems.append("set COACH_SECRET_KEY to a long random value")
        else:
            problems += filter(None, [secret_problem("COACH_SECRET_KEY", self.secret_key)])
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("set COACH_DATABASE_URL to PostgreSQL (postgresql+psycopg://…), "
                            "not SQLite")
        if not self.broker_url or "sqlite" in self.broker_url.split("://")[0]:
            problems.append("set COACH_BROKER_URL to Redis (redis://host:6379/0), not the "
                            "embedded SQLite broker")
        for name, backend in (("SMS", self.sms_backend), ("EMAIL", self.email_backend)):
            if backend in CHANNEL_BACKENDS:
                problems.append(f"COACH_{name}_BACKEND={backend} only prints or keeps messages; "
                                f"set a real channel, or off")
        if urlsplit(self.public_url).scheme != "https":
            problems.append("set COACH_PUBLIC_URL to the https:// address people and Twilio "
                            "reach (links in messages and webhook signatures use it)")
        if not self.inbound_email_secret and not self.imap_url:
            problems.append("set COACH_INBOUND_EMAIL_SECRET (32+ random characters) for the "
                            "inbound email webhook, or COACH_IMAP_URL to poll a mailbox")
        return problems


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
