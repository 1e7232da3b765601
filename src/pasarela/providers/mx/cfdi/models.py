"""The CFDI store's tables: a lean search index, the compressed XML by UUID, and ingest errors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pasarela.ledger.models import Base, Id, utcnow

Amount = Numeric(20, 6)


class Cfdi(Base):
    """One row per UUID: the XML brings the detail, the metadata brings status and cancellation."""

    __tablename__ = "mx_cfdi"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="")  # cfdi | retenciones | "" (metadata only)
    version: Mapped[str] = mapped_column(String(8), default="")
    tipo: Mapped[str] = mapped_column(String(2), default="")  # I E T N P, R = retenciones
    efecto: Mapped[str] = mapped_column(String(2), default="")  # EfectoComprobante from metadata
    serie: Mapped[str] = mapped_column(String(64), default="")
    folio: Mapped[str] = mapped_column(String(64), default="")
    emisor_rfc: Mapped[str] = mapped_column(String(16), default="")
    emisor_nombre: Mapped[str] = mapped_column(String(400), default="")
    receptor_rfc: Mapped[str] = mapped_column(String(16), default="")
    receptor_nombre: Mapped[str] = mapped_column(String(400), default="")
    # 'YYYY-MM-DD HH:MM:SS' as the SAT writes them: sortable text, identical on every database.
    fecha_emision: Mapped[str] = mapped_column(String(19), default="")
    fecha_certificacion: Mapped[str] = mapped_column(String(19), default="")
    pac_rfc: Mapped[str] = mapped_column(String(16), default="")
    subtotal: Mapped[object | None] = mapped_column(Amount)
    descuento: Mapped[object | None] = mapped_column(Amount)
    total: Mapped[object | None] = mapped_column(Amount)
    moneda: Mapped[str] = mapped_column(String(8), default="")
    tipo_cambio: Mapped[object | None] = mapped_column(Amount)
    total_retenido: Mapped[object | None] = mapped_column(Amount)
    total_trasladado: Mapped[object | None] = mapped_column(Amount)
    monto_pagado: Mapped[object | None] = mapped_column(Amount)  # Pagos complement
    monto: Mapped[object | None] = mapped_column(Amount)  # metadata Monto
    estado: Mapped[str] = mapped_column(String(12), default="")  # vigente | cancelado | "" unknown
    fecha_cancelacion: Mapped[str] = mapped_column(String(19), default="")
    rfc_a_cuenta_terceros: Mapped[str] = mapped_column(String(16), default="")
    nombre_a_cuenta_terceros: Mapped[str] = mapped_column(String(400), default="")
    detalle: Mapped[str] = mapped_column(Text, default="")  # JSON: pagos, retenciones
    has_xml: Mapped[int] = mapped_column(Integer, default=0)
    has_metadata: Mapped[int] = mapped_column(Integer, default=0)
    # Where the XML is when it stays inside the SAT's package (``CfdiPackage``): the entry's raw
    # deflate stream at ``xml_offset`` (``xml_csize`` bytes), ``xml_size`` and ``xml_crc`` once
    # inflated. NULL when the XML is a row of ``mx_cfdi_xml`` instead.
    xml_package: Mapped[int | None] = mapped_column(Integer)
    xml_offset: Mapped[int | None] = mapped_column(BigInteger)
    xml_csize: Mapped[int | None] = mapped_column(Integer)
    xml_size: Mapped[int | None] = mapped_column(Integer)
    xml_crc: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_mx_cfdi_emisor_fecha", "emisor_rfc", "fecha_emision"),
        Index("ix_mx_cfdi_receptor_fecha", "receptor_rfc", "fecha_emision"),
        Index("ix_mx_cfdi_fecha", "fecha_emision"),
    )


class CfdiPackage(Base):
    """A SAT package ZIP the store keeps (content-addressed, never rewritten): the XML of its
    deflated entries is read from it rather than copied into the database."""

    __tablename__ = "mx_cfdi_packages"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file: Mapped[str] = mapped_column(String(200))  # name inside the store's package folder
    size: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CfdiXml(Base):
    """The original XML, compressed, addressed by UUID: loose files and entries a package does not
    deflate (the rest stays in its package, see ``Cfdi.xml_package``)."""

    __tablename__ = "mx_cfdi_xml"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    zxml: Mapped[bytes] = mapped_column(LargeBinary)


class CfdiIngestError(Base):
    """A file of a package that could not be indexed, with the reason (the batch went on)."""

    __tablename__ = "mx_cfdi_errors"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    entry: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("source", "entry", name="uq_mx_cfdi_errors_source_entry"),)
