"""jobs.retried_at_attempt: the attempt count at the job's last retry, so the limit on runs that die counts
only the runs since then.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before were never retried under this column: every run they had counts, as before.
    op.add_column(
        "jobs", sa.Column("retried_at_attempt", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("retried_at_attempt")
