from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coach.db import Base, UTCDateTime, utcnow


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    quality: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list["ProgrammeVersion"]] = relationship(
        back_populates="programme", order_by="ProgrammeVersion.number"
    )


class ProgrammeVersion(Base):
    """A published, immutable snapshot: the parsed definition with every template's source."""

    __tablename__ = "programme_versions"
    __table_args__ = (UniqueConstraint("programme_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    number: Mapped[int]
    checksum: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who published it and why (the admin pages; NULL for the CLI and the built-ins), and who
    # approved it when two people must agree.
    published_by: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(320))

    programme: Mapped[Programme] = relationship(back_populates="versions")


class ProgrammeDraft(Base):
    """A programme being written in the admin pages: the folder format as files in the
    database (``programme.yaml`` and ``steps/<key>.j2`` by relative path), so the pages and
    the files under templates/programmes/ stay two views of one thing.

    ``revision`` goes up by one with each save: a save names the revision it started from,
    and one that is no longer current is a conflict, never a silent overwrite.
    """

    __tablename__ = "programme_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(default=1)
    based_on_version_id: Mapped[int | None] = mapped_column(ForeignKey("programme_versions.id"))
    updated_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@event.listens_for(ProgrammeVersion, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: ProgrammeVersion) -> None:
    raise ValueError(
        f"programme version {target.id} is published and immutable; publish a new version"
    )
