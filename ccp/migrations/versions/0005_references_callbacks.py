"""Inputs by reference and subscriber callbacks.

Revision ID: 0005
Revises: 0004

ccp_jobs gets the inputs given by reference (JSON); ccp_callbacks holds the subscriber
callbacks waiting to be sent (a durable queue: a callback survives a restart of its server).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ccp_jobs", sa.Column("input_references", sa.Text))
    op.create_table(
        "ccp_callbacks",
        sa.Column("identifier", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_index("ix_ccp_callbacks_job_id", "ccp_callbacks", ["job_id"])
    op.create_index("ix_ccp_callbacks_state", "ccp_callbacks", ["state"])
    op.create_index("ix_ccp_callbacks_next_attempt", "ccp_callbacks", ["next_attempt"])


def downgrade() -> None:
    op.drop_table("ccp_callbacks")
    with op.batch_alter_table("ccp_jobs") as batch:
        batch.drop_column("input_references")
