"""Alembic environment: the database URL comes from coach's settings unless one is given."""

from alembic import context

from coach.db import get_engine
from coach.models import Base
from coach.settings import get_settings


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    connectable = context.config.attributes.get("connection") or get_engine(url)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _migrate(connection)
    else:
        _migrate(connectable)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


run_migrations()
