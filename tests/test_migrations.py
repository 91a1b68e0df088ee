"""Alembic describes every table: a model change without a migration fails here (and in CI)."""

import pytest
from alembic.util.exc import CommandError

from coach.migrate import check


def test_migrations_match_the_models(database_url):
    check(database_url)


def test_a_model_change_without_a_migration_is_caught(database_url):
    from sqlalchemy import Column, Integer, Table

    from coach.db import Base

    extra = Table("not_migrated", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        with pytest.raises(CommandError, match="New upgrade operations detected"):
            check(database_url)
    finally:
        Base.metadata.remove(extra)
