"""ccp_jobs: the jobs and their durable queue (version 1 of the old runner).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ccp_jobs",
        sa.Column("identifier", sa.String(64), primary_key=True),
        sa.Column("process_id", sa.String(128), nullable=False),
        sa.Column("process_version", sa.String(64), nullable=False),
        sa.Column("infrastructure_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("started", sa.String(40)),
        sa.Column("finished", sa.String(40)),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("owner", sa.String(256)),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("worker", sa.String(64)),
        sa.Column("heartbeat", sa.Float),
        sa.Column("instance", sa.Text),
        sa.Column("dismiss_requested", sa.Boolean, nullable=False),
        sa.Column("stored", sa.Boolean, nullable=False),
        sa.Column("outputs", sa.Text),
        sa.Column("derived_from", sa.String(64)),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("infrastructure", sa.Text, nullable=False),
    )
    for column in ("process_id", "status", "created", "owner"):
        op.create_index(f"ix_ccp_jobs_{column}", "ccp_jobs", [column])


def downgrade() -> None:
    op.drop_table("ccp_jobs")
