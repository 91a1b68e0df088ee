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
    default_send_time: str = "18:00"
    default_quiet_start: str = "21:00"
    default_quiet_end: str = "08:00"

    @field_validator("sms_backend", "email_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in CHANNEL_BACKENDS:
            raise ValueError(f"unknown channel backend {value!r}; use one of {CHANNEL_BACKENDS}")
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


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
