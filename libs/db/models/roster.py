"""The roster store: the platform's entities, tenant-scoped, soft-deleted, never hard-deleted.

Which SIS records feed an entity is recorded in `sis_entity_links` (one row per provider and
external id). An entity is active while at least one active link points at it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.models.base import Base, Timestamps, new_id

_ENTITY_TYPES = "'school', 'term', 'class', 'user', 'enrollment'"


class _RosterEntity(Timestamps):
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deactivated_at: Mapped[datetime | None]


class School(_RosterEntity, Base):
    __tablename__ = "schools"

    name: Mapped[str] = mapped_column(Text)
    school_number: Mapped[str | None] = mapped_column(Text)
    state_id: Mapped[str | None] = mapped_column(Text)
    nces_id: Mapped[str | None] = mapped_column(Text)
    low_grade: Mapped[str | None] = mapped_column(Text)
    high_grade: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_schools_tenant", "tenant_id", "id"),)


class Term(_RosterEntity, Base):
    __tablename__ = "terms"

    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("terms.id"))
    school_year: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_terms_tenant", "tenant_id", "id"),)


class Class(_RosterEntity, Base):
    __tablename__ = "classes"

    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id"))
    title: Mapped[str] = mapped_column(Text)
    class_code: Mapped[str | None] = mapped_column(Text)
    course_code: Mapped[str | None] = mapped_column(Text)
    course_title: Mapped[str | None] = mapped_column(Text)
    term_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), server_default=text("'{}'::uuid[]"))
    subjects: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    grades: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    periods: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    location: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_classes_tenant", "tenant_id", "id"),)


class User(_RosterEntity, Base):
    __tablename__ = "users"

    role: Mapped[str] = mapped_column(String(32))
    given_name: Mapped[str | None] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    family_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(Text)
    sis_id: Mapped[str | None] = mapped_column(Text)
    student_number: Mapped[str | None] = mapped_column(Text)
    state_id: Mapped[str | None] = mapped_column(Text)
    grades: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    school_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), server_default=text("'{}'::uuid[]"))
    primary_school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (
        Index("ix_users_tenant", "tenant_id", "id"),
        # matching looks users up by lower-cased email and by student number within a tenant
        Index("ix_users_tenant_email", "tenant_id", func.lower(text("email"))),
        Index("ix_users_tenant_student_number", "tenant_id", "student_number"),
    )


class Enrollment(_RosterEntity, Base):
    __tablename__ = "enrollments"

    # No foreign keys on the largest table: every id here comes from a link the same run
    # validated, entities are never hard-deleted, and three key checks per row cost a district's
    # first sync about a third of its enrollment load.
    class_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID | None]
    role: Mapped[str] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    begin_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_enrollments_tenant", "tenant_id", "id"),
        Index("ix_enrollments_class", "class_id"),
        Index("ix_enrollments_user", "user_id"),
    )


class SisEntityLink(Base):
    """Provider external id -> roster entity, with the hash of the record last applied."""

    __tablename__ = "sis_entity_links"

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_providers.id"), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, primary_key=True)
    entity_id: Mapped[uuid.UUID]
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_seen_run_id: Mapped[uuid.UUID | None]
    # the run that last wrote this link; unchanged records are not rewritten on every sync
    last_changed_run_id: Mapped[uuid.UUID | None]
    deactivated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"entity_type IN ({_ENTITY_TYPES})", name="entity_type"),
        Index("ix_sis_entity_links_entity", "entity_id"),
    )
