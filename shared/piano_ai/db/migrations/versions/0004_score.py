"""jobs.want_score, jobs.score_key, jobs.score: the sheet music a job makes when asked to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before made no score and asked for none.
    op.add_column("jobs", sa.Column("want_score", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("jobs", sa.Column("score_key", sa.String(255), nullable=True))
    op.add_column("jobs", sa.Column("score", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("score")
        batch.drop_column("score_key")
        batch.drop_column("want_score")
