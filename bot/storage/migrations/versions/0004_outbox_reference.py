"""What an outbox message is about (a handoff or ticket id), so the console can show its deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("reference", sa.String(32), nullable=True))
        batch.create_index("ix_outbox_reference", ["reference"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_reference")
        batch.drop_column("reference")
