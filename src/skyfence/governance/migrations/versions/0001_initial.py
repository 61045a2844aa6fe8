"""Initial governance schema: principals, API keys, owners, groups, terminals, proposals,
approvals, the transparency log (entries, Merkle node hashes, checkpoints, head) and settings.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("roles", sa.String(256), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=True),
        sa.Column("created_utc", sa.String(40), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_sha256", sa.String(64), primary_key=True),
        sa.Column("principal_id", sa.String(128), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("created_utc", sa.String(40), nullable=False),
    )
    op.create_table(
        "owners",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("max_terminals", sa.Integer, nullable=True),
    )
    op.create_table(
        "groups",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("lat_deg", sa.Float, nullable=False),
        sa.Column("lon_deg", sa.Float, nullable=False),
        sa.Column("owner_id", sa.String(128), sa.ForeignKey("owners.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_utc", sa.String(40), nullable=False),
    )
    op.create_index("ix_terminals_owner_id", "terminals", ["owner_id"])
    op.create_table(
        "terminal_groups",
        sa.Column("terminal_id", sa.String(128), sa.ForeignKey("terminals.id"), primary_key=True),
        sa.Column("group_name", sa.String(128), sa.ForeignKey("groups.name"), primary_key=True),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("proposer", sa.String(128), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("canonical", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("effective_utc", sa.String(40), nullable=False),
        sa.Column("expires_utc", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("entry_index", sa.Integer, nullable=False),
        sa.Column("enacted_index", sa.Integer, nullable=True),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("proposal_id", sa.String(64), sa.ForeignKey("proposals.id"), nullable=False),
        sa.Column("approver", sa.String(128), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("t_utc", sa.String(40), nullable=False),
        sa.Column("entry_index", sa.Integer, nullable=False),
        sa.UniqueConstraint("proposal_id", "approver", name="uq_approval_once"),
    )
    op.create_index("ix_approvals_proposal_id", "approvals", ["proposal_id"])
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("t_utc", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_log_entries_kind", "log_entries", ["kind"])
    op.create_table(
        "merkle_nodes",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("t_utc", sa.String(40), nullable=False),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(sa.table("log_head", sa.column("id", sa.Integer), sa.column("size", sa.Integer)),
                   [{"id": 1, "size": 0}])


def downgrade() -> None:
    for name in ("settings", "log_head", "checkpoints", "merkle_nodes", "log_entries", "approvals",
                 "proposals", "terminal_groups", "terminals", "groups", "owners", "api_keys",
                 "principals"):
        op.drop_table(name)
