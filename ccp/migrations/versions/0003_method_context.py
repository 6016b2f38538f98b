"""ccp_method_versions.context: the workbench context of a deployed Method (version 3).

Revision ID: 0003
Revises: 0002

Only databases of the old runner stamped at version 2 lack the column (see 0002); later
revisions change the schema unconditionally.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("ccp_method_versions")}
    if "context" not in columns:
        op.add_column("ccp_method_versions", sa.Column("context", sa.String(256)))


def downgrade() -> None:
    op.drop_column("ccp_method_versions", "context")
