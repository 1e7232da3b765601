"""Search, summary and export over the CFDI index (same filters for the CLI and the API)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, case, func, or_, select, text

from pasarela.ledger.db import Database
from pasarela.providers.mx.cfdi.models import Cfdi

COLUMNS = ("uuid", "version", "tipo", "serie", "folio", "emisor_rfc", "emisor_nombre", "receptor_rfc",
           "receptor_nombre", "fecha_emision", "fecha_certificacion", "pac_rfc", "subtotal", "total", "moneda",
           "monto_pagado", "efecto", "estado", "fecha_cancelacion", "rfc_a_cuenta_terceros", "has_xml",
           "has_metadata")
AMOUNT_COLUMNS = {"subtotal", "total", "monto_pagado"}
CENT = Decimal("0.01")


def money(value: Any) -> Decimal | None:
    """Amounts as 2-decimal Decimals (SQLite hands back floats for NUMERIC)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class CfdiFilters:
    rfc: str | None = None  # emisor or receptor
    counterparty: str | None = None  # RFC or part of the name, either side
    date_from: str | None = None  # YYYY-MM-DD
    date_to: str | None = None
    tipo: str | None = None
    estado: str | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    uuid: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        amount = func.coalesce(Cfdi.total, Cfdi.monto)
        if self.rfc:
            rfc = self.rfc.strip().upper()
            query = query.where(or_(Cfdi.emisor_rfc == rfc, Cfdi.receptor_rfc == rfc))
        if self.counterparty:
            term = f"%{self.counterparty.strip().upper()}%"
            query = query.where(or_(Cfdi.emisor_rfc.like(term), Cfdi.receptor_rfc.like(term),
                                    func.upper(Cfdi.emisor_nombre).like(term),
                                    func.upper(Cfdi.receptor_nombre).like(term)))
        if self.date_from:
            query = query.where(Cfdi.fecha_emision >= self.date_from[:10])
        if self.date_to:
            query = query.where(Cfdi.fecha_emision <= self.date_to[:10] + " 23:59:59")
        if self.tipo:
            query = query.where(Cfdi.tipo == self.tipo.upper())
        if self.estado:
            query = query.where(Cfdi.estado == self.estado.lower())
        if self.min_total is not None:
            query = query.where(amount >= self.min_total)
        if self.max_total is not None:
            query = query.where(amount <= self.max_total)
        if self.uuid:
            query = query.where(Cfdi.uuid == self.uuid.strip().upper())
        return query


def _record(row: Any) -> dict[str, Any]:
    data = {c: getattr(row, c) for c in COLUMNS}
    for column in AMOUNT_COLUMNS:
        data[column] = money(data[column])
    return data


def search(db: Database, filters: CfdiFilters, *, limit: int = 100,
           offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    query = filters.apply(select(Cfdi))
    with db.transaction() as session:
        total = int(session.scalar(filters.apply(select(func.count()).select_from(Cfdi))) or 0)
        rows = session.scalars(query.order_by(Cfdi.fecha_emision.desc(), Cfdi.uuid).limit(limit).offset(offset)).all()
        return total, [_record(r) for r in rows]


def iter_all(db: Database, filters: CfdiFilters, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every match in stable order, a chunk at a time (keyset pagination keeps memory flat)."""
    last: tuple[str, str] | None = None
    while True:
        query = filters.apply(select(Cfdi)).order_by(Cfdi.fecha_emision, Cfdi.uuid).limit(chunk)
        if last:
            query = query.where(or_(Cfdi.fecha_emision > last[0],
                                    (Cfdi.fecha_emision == last[0]) & (Cfdi.uuid > last[1])))
        with db.transaction() as session:
            rows = session.scalars(query).all()
            records = [_record(r) for r in rows]
        if not records:
            return
        yield from records
        last = (records[-1]["fecha_emision"], records[-1]["uuid"])


def summary(db: Database, filters: CfdiFilters, company_rfc: str) -> list[dict[str, Any]]:
    """Totals per month and counterparty; direction is relative to the company RFC."""
    company = company_rfc.strip().upper()
    month = func.substr(Cfdi.fecha_emision, 1, 7).label("mes")
    # Group by month, direction and the counterparty's RFC (the other side of the company).
    counterparty = _counterparty(company)
    query = filters.apply(
        select(month, counterparty.label("contraparte"), func.max(_counterparty_name(company)).label("nombre"),
               (Cfdi.emisor_rfc == company).label("emitido"), func.count().label("n"),
               func.sum(func.coalesce(Cfdi.total, Cfdi.monto)).label("total"),
               func.sum(Cfdi.monto_pagado).label("pagado"))
        .select_from(Cfdi)
    ).group_by(text("mes"), text("contraparte"), text("emitido")).order_by(text("mes"), text("contraparte"))
    cancelled = filters.apply(
        select(month, counterparty.label("contraparte"), func.count().label("n")).select_from(Cfdi)
        .where(Cfdi.estado == "cancelado")
    ).group_by(text("mes"), text("contraparte"))
    with db.transaction() as session:
        rows = session.execute(query).all()
        cancel_counts = {(r.mes, r.contraparte): r.n for r in session.execute(cancelled).all()}
    return [{"mes": r.mes, "direccion": "emitido" if r.emitido else "recibido", "contraparte": r.contraparte,
             "nombre": r.nombre, "documentos": r.n, "cancelados": cancel_counts.get((r.mes, r.contraparte), 0),
             "total": money(r.total) or Decimal("0.00"), "pagado": money(r.pagado)} for r in rows]


def _counterparty(company: str) -> Any:
    return case((Cfdi.emisor_rfc == company, Cfdi.receptor_rfc), else_=Cfdi.emisor_rfc)


def _counterparty_name(company: str) -> Any:
    return case((Cfdi.emisor_rfc == company, Cfdi.receptor_nombre), else_=Cfdi.emisor_nombre)


HEADERS = {"uuid": "UUID", "version": "Versión", "tipo": "Tipo", "serie": "Serie", "folio": "Folio",
           "emisor_rfc": "RFC emisor", "emisor_nombre": "Nombre emisor", "receptor_rfc": "RFC receptor",
           "receptor_nombre": "Nombre receptor", "fecha_emision": "Fecha de emisión",
           "fecha_certificacion": "Fecha de certificación", "pac_rfc": "PAC", "subtotal": "Subtotal",
           "total": "Total", "moneda": "Moneda", "monto_pagado": "Monto pagado", "efecto": "Efecto",
           "estado": "Estado", "fecha_cancelacion": "Fecha de cancelación",
           "rfc_a_cuenta_terceros": "RFC a cuenta de terceros", "has_xml": "XML", "has_metadata": "Metadata"}


def export_csv(rows: Iterator[dict[str, Any]], path: Path) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow([HEADERS[c] for c in COLUMNS])
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
            count += 1
    return count


def export_xlsx(rows: Iterator[dict[str, Any]], path: Path) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("CFDI")
    sheet.append([HEADERS[c] for c in COLUMNS])
    count = 0
    for row in rows:
        sheet.append([float(row[c]) if c in AMOUNT_COLUMNS and row[c] is not None else row[c] for c in COLUMNS])
        count += 1
    workbook.save(path)
    return count
