"""mx cfdi: XML kept inside the SAT's own package ZIPs, referenced from the index

Revision ID: 0501_mx_cfdi_package_refs
Revises: 0500_mx_mysuite
"""
import sqlalchemy as sa
from alembic import op

import pasarela.ledger.models

revision = "0501_mx_cfdi_package_refs"
down_revision = "0500_mx_mysuite"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = pasarela.ledger.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mx_cfdi_packages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("file", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(200), nullable=False, server_default=""),
        sa.Column("at", When, nullable=False),
    )
    with op.batch_alter_table("mx_cfdi") as batch:
        batch.add_column(sa.Column("xml_package", sa.Integer, nullable=True))
        batch.add_column(sa.Column("xml_offset", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("xml_csize", sa.Integer, nullable=True))
        batch.add_column(sa.Column("xml_size", sa.Integer, nullable=True))
        batch.add_column(sa.Column("xml_crc", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mx_cfdi") as batch:
        for column in ("xml_crc", "xml_size", "xml_csize", "xml_offset", "xml_package"):
            batch.drop_column(column)
    op.drop_table("mx_cfdi_packages")
