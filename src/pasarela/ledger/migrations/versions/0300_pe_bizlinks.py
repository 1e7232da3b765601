"""Peru (Bizlinks): per-series correlative counters

Revision ID: 0300_pe_bizlinks
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0300_pe_bizlinks"
down_revision = "0001_core"
branch_labels = ("pe",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pe_counters",
        sa.Column("ruc", sa.String(length=11), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ruc", "series"),
    )


def downgrade() -> None:
    op.drop_table("pe_counters")
