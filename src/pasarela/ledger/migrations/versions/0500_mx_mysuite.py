"""mx mysuite: SAT request registry, packages, and the CFDI store

Revision ID: 0500_mx_mysuite
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

import pasarela.ledger.models

revision = "0500_mx_mysuite"
down_revision = "0001_core"
branch_labels = ("mysuite",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = pasarela.ledger.models.UTCDateTime(timezone=True)
Amount = sa.Numeric(20, 6)


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def upgrade() -> None:
    op.create_table(
        "mx_sat_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("document_id", Id, sa.ForeignKey("documents.id"), nullable=True),
        sa.Column("rfc", sa.String(16), nullable=False),
        sa.Column("servicio", sa.String(12), nullable=False),
        sa.Column("direccion", sa.String(10), nullable=False),
        sa.Column("tipo", sa.String(10), nullable=False),
        sa.Column("fecha_inicial", sa.String(19), nullable=False),
        sa.Column("fecha_final", sa.String(19), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("state", sa.String(20), nullable=False, server_default="planned"),
        sa.Column("mysuite_id", sa.String(80), nullable=True),
        _text("sat_code", 8),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        *[sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in (
            "cfdi_count", "packages_total", "packages_done", "docs_ingested", "errors_count", "polls", "forced")],
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("rfc", "servicio", "direccion", "tipo", "fecha_inicial", "fecha_final", "attempt",
                            name="uq_mx_sat_requests_period"),
    )
    op.create_index("ix_mx_sat_requests_document_id", "mx_sat_requests", ["document_id"])
    op.create_index("ix_mx_sat_requests_state", "mx_sat_requests", ["state"])
    op.create_index("ix_mx_sat_requests_mysuite_id", "mx_sat_requests", ["mysuite_id"])
    op.create_table(
        "mx_sat_packages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", Id, sa.ForeignKey("mx_sat_requests.id"), nullable=False),
        sa.Column("package_id", sa.String(120), nullable=False),
        _text("state", 16),
        sa.Column("path", sa.Text, nullable=False, server_default=""),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        _text("sha256", 64),
        sa.Column("docs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", When, nullable=False),
        sa.UniqueConstraint("request_id", "package_id", name="uq_mx_sat_packages_request_package"),
    )
    op.create_index("ix_mx_sat_packages_request_id", "mx_sat_packages", ["request_id"])
    op.create_table(
        "mx_cfdi",
        sa.Column("uuid", sa.String(36), primary_key=True),
        _text("kind", 12), _text("version", 8), _text("tipo", 2), _text("efecto", 2),
        _text("serie", 64), _text("folio", 64),
        _text("emisor_rfc", 16), _text("emisor_nombre", 400),
        _text("receptor_rfc", 16), _text("receptor_nombre", 400),
        _text("fecha_emision", 19), _text("fecha_certificacion", 19), _text("pac_rfc", 16),
        *[sa.Column(c, Amount, nullable=True) for c in ("subtotal", "descuento", "total")],
        _text("moneda", 8),
        *[sa.Column(c, Amount, nullable=True) for c in (
            "tipo_cambio", "total_retenido", "total_trasladado", "monto_pagado", "monto")],
        _text("estado", 12), _text("fecha_cancelacion", 19),
        _text("rfc_a_cuenta_terceros", 16), _text("nombre_a_cuenta_terceros", 400),
        sa.Column("detalle", sa.Text, nullable=False, server_default=""),
        sa.Column("has_xml", sa.Integer, nullable=False, server_default="0"),
        sa.Column("has_metadata", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_mx_cfdi_emisor_fecha", "mx_cfdi", ["emisor_rfc", "fecha_emision"])
    op.create_index("ix_mx_cfdi_receptor_fecha", "mx_cfdi", ["receptor_rfc", "fecha_emision"])
    op.create_index("ix_mx_cfdi_fecha", "mx_cfdi", ["fecha_emision"])
    op.create_table(
        "mx_cfdi_xml",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("zxml", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "mx_cfdi_errors",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("entry", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.UniqueConstraint("source", "entry", name="uq_mx_cfdi_errors_source_entry"),
    )


def downgrade() -> None:
    for table in ("mx_cfdi_errors", "mx_cfdi_xml", "mx_cfdi", "mx_sat_packages", "mx_sat_requests"):
        op.drop_table(table)
