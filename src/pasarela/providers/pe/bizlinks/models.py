"""Peru tables: gap-free correlatives per (RUC, series)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pasarela.ledger.models import Base


class PeCounter(Base):
    """The last number used per RUC and series (F001, B001, RC-20240501, RA-20240501…)."""

    __tablename__ = "pe_counters"
    ruc: Mapped[str] = mapped_column(String(11), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
