"""Checkpoints with the witnesses' cosignatures (``witnessed_checkpoints``): per tree size, the
log's signed note with the C2SP tlog-cosignature lines the witnesses returned.

Revision ID: 0003_witnessed_checkpoints
Revises: 0002_key_unique_nonces
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_witnessed_checkpoints"
down_revision = "0002_key_unique_nonces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witnessed_checkpoints",
        sa.Column("tree_size", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("t_utc", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("witnessed_checkpoints")
