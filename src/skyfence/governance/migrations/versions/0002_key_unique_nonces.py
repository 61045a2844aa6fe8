"""One public key per principal (unique index on ``principals.public_key``) and the signed
requests' nonces with their expiry (``request_nonces``), so that a replayed request is refused
after a restart and by every server process on the database.

Revision ID: 0002_key_unique_nonces
Revises: 0001_initial
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_key_unique_nonces"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_principals_public_key", "principals", ["public_key"], unique=True)
    op.create_table(
        "request_nonces",
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("expires_unix", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("request_nonces")
    op.drop_index("uq_principals_public_key", table_name="principals")
