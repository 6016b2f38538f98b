"""Job control and Infrastructure health: suspend/resume/extend state, their requests, the
health checks and verify reports.

Revision ID: 0006
Revises: 0005

ccp_jobs gets the suspension asked for, the one in force, the seconds spent suspended and the
seconds added to the time limit; ccp_job_controls records who asked for each suspend, resume
and extend; ccp_infrastructure_checks holds recent health checks and verify reports.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ccp_jobs", sa.Column("suspend_requested", sa.Boolean, nullable=False,
                                        server_default=sa.false()))
    op.add_column("ccp_jobs", sa.Column("suspended_since", sa.String(40)))
    op.add_column("ccp_jobs", sa.Column("suspended_seconds", sa.Float, nullable=False,
                                        server_default="0"))
    op.add_column("ccp_jobs", sa.Column("extended_seconds", sa.Integer, nullable=False,
                                        server_default="0"))
    op.create_table(
        "ccp_job_controls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(256)),
        sa.Column("seconds", sa.Integer),
    )
    op.create_index("ix_ccp_job_controls_job_id", "ccp_job_controls", ["job_id"])
    op.create_table(
        "ccp_infrastructure_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("infrastructure_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("checked", sa.String(40), nullable=False),
        sa.Column("server", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_ccp_infrastructure_checks_infrastructure_id",
                    "ccp_infrastructure_checks", ["infrastructure_id"])


def downgrade() -> None:
    op.drop_index("ix_ccp_infrastructure_checks_infrastructure_id",
                  "ccp_infrastructure_checks")
    op.drop_table("ccp_infrastructure_checks")
    op.drop_index("ix_ccp_job_controls_job_id", "ccp_job_controls")
    op.drop_table("ccp_job_controls")
    with op.batch_alter_table("ccp_jobs") as batch:
        batch.drop_column("extended_seconds")
        batch.drop_column("suspended_seconds")
        batch.drop_column("suspended_since")
        batch.drop_column("suspend_requested")
