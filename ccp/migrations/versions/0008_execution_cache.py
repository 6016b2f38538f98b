"""The cache of identical executions: what it looks up and what a hit reused.

Revision ID: 0008
Revises: 0007

ccp_jobs gets `cache_key` (indexed: every submission of a deterministic Method looks it up)
and `cache_of`, the execution whose archive a cache hit reused.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ccp_jobs", sa.Column("cache_key", sa.String(80)))
    op.add_column("ccp_jobs", sa.Column("cache_of", sa.String(64)))
    op.create_index("ix_ccp_jobs_cache_key", "ccp_jobs", ["cache_key"])


def downgrade() -> None:
    op.drop_index("ix_ccp_jobs_cache_key", table_name="ccp_jobs")
    with op.batch_alter_table("ccp_jobs") as batch:
        batch.drop_column("cache_of")
        batch.drop_column("cache_key")
