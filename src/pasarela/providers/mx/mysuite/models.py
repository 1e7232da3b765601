"""The never-twice registry of SAT bulk-download requests and the packages each one yields."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pasarela.ledger.models import Base, Id, utcnow


class SatRequest(Base):
    """One period asked of the SAT (service, direction, kind, exact range). ``attempt`` > 1 only
    when someone asked again with ``--force``; the SAT allows a period twice in a lifetime (5002)."""

    __tablename__ = "mx_sat_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    rfc: Mapped[str] = mapped_column(String(16))
    servicio: Mapped[str] = mapped_column(String(12))  # CFDIS | RETENCIONES
    direccion: Mapped[str] = mapped_column(String(10))  # EMISOR | RECEPTOR
    tipo: Mapped[str] = mapped_column(String(10))  # CFDI | Metadata
    fecha_inicial: Mapped[str] = mapped_column(String(19))
    fecha_final: Mapped[str] = mapped_column(String(19))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    mysuite_id: Mapped[str | None] = mapped_column(String(80), index=True)
    sat_code: Mapped[str] = mapped_column(String(8), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    cfdi_count: Mapped[int] = mapped_column(Integer, default=0)
    packages_total: Mapped[int] = mapped_column(Integer, default=0)
    packages_done: Mapped[int] = mapped_column(Integer, default=0)
    docs_ingested: Mapped[int] = mapped_column(Integer, default=0)
    errors_count: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    forced: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "rfc", "servicio", "direccion", "tipo", "fecha_inicial", "fecha_final", "attempt",
            name="uq_mx_sat_requests_period",
        ),
    )

    def period_key(self) -> str:
        return f"{self.servicio}/{self.direccion}/{self.tipo} {self.fecha_inicial} → {self.fecha_final}"


class SatPackage(Base):
    """A package of a finished request: downloaded (bytes kept on disk) then ingested."""

    __tablename__ = "mx_sat_packages"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("mx_sat_requests.id"), index=True)
    package_id: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|downloaded|ingested|error
    path: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    docs: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "package_id", name="uq_mx_sat_packages_request_package"),)
