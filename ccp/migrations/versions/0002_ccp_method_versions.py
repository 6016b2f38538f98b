"""ccp_method_versions: every version of the Methods deployed through the API (version 2).

Revision ID: 0002
Revises: 0001

As the old runner's version 2 did by then, this already has `context`, so that a new database
has today's columns in today's order; 0003 adds it to databases made before it existed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ccp_method_versions",
        sa.Column("method_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("owner", sa.String(256)),
        sa.Column("context", sa.String(256)),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
    )
    op.create_index("ix_ccp_method_versions_current", "ccp_method_versions", ["current"])


def downgrade() -> None:
    op.drop_table("ccp_method_versions")
