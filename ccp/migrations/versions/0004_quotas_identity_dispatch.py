"""Quotas, honest Method identity and fair dispatch (version 4 of the old runner).

Revision ID: 0004
Revises: 0003

ccp_jobs gets the digest and source of the Method that ran and the bytes of its archive;
ccp_dispatch records when each owner last had a job claimed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ccp_jobs", sa.Column("method_digest", sa.String(80)))
    op.add_column("ccp_jobs", sa.Column("method_source", sa.String(16)))
    op.add_column("ccp_jobs", sa.Column("archive_bytes", sa.BigInteger))
    op.create_table(
        "ccp_dispatch",
        sa.Column("owner", sa.String(256), primary_key=True),
        sa.Column("last_claimed", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ccp_dispatch")
    with op.batch_alter_table("ccp_jobs") as batch:
        batch.drop_column("archive_bytes")
        batch.drop_column("method_source")
        batch.drop_column("method_digest")
