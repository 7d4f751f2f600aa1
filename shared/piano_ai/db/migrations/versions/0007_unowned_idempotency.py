"""Idempotency-Keys of jobs without an owner (PIANO_AI_AUTH=off, or rows from before API keys) unique again.

0005 made Idempotency-Keys unique per API key; a unique constraint treats NULL owners as all different, so
without keys two requests with the same Idempotency-Key could both create a job. A partial unique index
covers them (Postgres and SQLite both have partial indexes).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNOWNED = sa.text("owner_key_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "uq_jobs_unowned_idempotency",
        "jobs",
        ["idempotency_key"],
        unique=True,
        postgresql_where=UNOWNED,
        sqlite_where=UNOWNED,
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_unowned_idempotency", table_name="jobs")
