"""Running Alembic from code, so `coach db upgrade` and `coach run` need no alembic.ini path."""

from alembic import command
from alembic.config import Config

from coach.settings import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def check(url: str) -> None:
    """Raises when the models have changes no migration describes."""
    command.check(alembic_config(url))

