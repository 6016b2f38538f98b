"""Execution metrics: resource samples and phase times (ccp.metrics).

Revision ID: 0007
Revises: 0006

ccp_metric_samples holds one row per replica per sampling round of a running execution;
ccp_phases the start and end of each lifecycle phase. Both are keyed by job id and removed
with the job.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ccp_metric_samples",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("replica", sa.Integer, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("cpu_seconds", sa.Float),
        sa.Column("memory_bytes", sa.BigInteger),
        sa.Column("memory_limit_bytes", sa.BigInteger),
        sa.Column("network_rx_bytes", sa.BigInteger),
        sa.Column("network_tx_bytes", sa.BigInteger),
        sa.Column("block_read_bytes", sa.BigInteger),
        sa.Column("block_write_bytes", sa.BigInteger),
        sa.Column("processes", sa.Integer),
    )
    op.create_table(
        "ccp_phases",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("finished", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("ccp_phases")
    op.drop_table("ccp_metric_samples")
