"""api_keys, jobs.owner_key_id, and Idempotency-Keys unique per API key (no longer globally).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode names the unnamed unique constraint of 0001 so that SQLite can drop it too.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    # Rows from before have no owner: only admin keys see them.
    with op.batch_alter_table("jobs", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("owner_key_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_jobs_owner_key_id", "api_keys", ["owner_key_id"], ["id"])
        batch.create_index("ix_jobs_owner_key_id", ["owner_key_id"])
        batch.drop_constraint(_old_unique_name(), type_="unique")
        batch.create_unique_constraint("uq_jobs_owner_idempotency", ["owner_key_id", "idempotency_key"])


def _old_unique_name() -> str:
    """0001's unique constraint on idempotency_key: Postgres named it jobs_idempotency_key_key."""
    if op.get_bind().dialect.name == "postgresql":
        return "jobs_idempotency_key_key"
    return "uq_jobs_idempotency_key"


def downgrade() -> None:
    with op.batch_alter_table("jobs", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_jobs_owner_idempotency", type_="unique")
        batch.create_unique_constraint(_old_unique_name(), ["idempotency_key"])
        batch.drop_index("ix_jobs_owner_key_id")
        batch.drop_constraint("fk_jobs_owner_key_id", type_="foreignkey")
        batch.drop_column("owner_key_id")
    op.drop_table("api_keys")
