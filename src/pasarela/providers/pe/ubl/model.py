"""The JSON a caller sends to issue a Peruvian document, validated with messages in Spanish.

The caller gives lines; we compute every total (see ``compute_totals``). Numbers are assigned by
the ledger, never by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from stdnum.pe import ruc as stdnum_ruc

from pasarela.providers.pe.ubl import amounts, catalogs

LIMA = timezone(timedelta(hours=-5))
# Demo RUCs used everywhere in SUNAT examples that fail the check digit (reference §8). Accepted only
# outside production.
DEMO_RUCS = {"20123456789", "20587896411", "12345678912"}
SERIES_PATTERN = {"01": r"F[A-Z0-9]{3}", "03": r"B[A-Z0-9]{3}"}
NOTE_SERIES_PATTERN = r"[FB][A-Z0-9]{3}"
BOLETA_ANONYMOUS_LIMIT = Decimal("700")


def lima_now() -> datetime:
    return datetime.now(LIMA)


def check_ruc(value: str, *, allow_demo: bool = True) -> str:
    value = value.strip()
    if allow_demo and value in DEMO_RUCS:
        return value
    if not stdnum_ruc.is_valid(value):
        raise ValueError(f"RUC {value!r} inválido (11 dígitos, prefijo 10/15/17/20 y dígito verificador)")
    return value


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_type: str = Field(description="Catálogo 06: 6 RUC, 1 DNI, 4 CE, 7 pasaporte, 0 / - varios")
    doc_number: str
    name: str = Field(min_length=1, max_length=1500)
    address: str | None = None
    email: str | None = None

    @field_validator("doc_type")
    @classmethod
    def _doc_type(cls, v: str) -> str:
        if v not in catalogs.IDENTITY_DOCS:
            raise ValueError(f"tipo de documento {v!r} no está en el catálogo 06 ({', '.join(catalogs.IDENTITY_DOCS)})")
        return v

    @model_validator(mode="after")
    def _number(self) -> Customer:
        n = self.doc_number.strip()
        if self.doc_type == "6":
            check_ruc(n)
        elif self.doc_type == "1" and not re.fullmatch(r"\d{8}", n):
            raise ValueError(f"DNI {n!r} inválido: deben ser 8 dígitos")
        elif self.doc_type in ("4", "7") and not re.fullmatch(r"[A-Za-z0-9]{1,12}", n):
            raise ValueError(f"número de documento {n!r} inválido para el tipo {self.doc_type}")
        elif not n:
            raise ValueError("falta el número de documento del cliente")
        self.doc_number = n
        return self


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(gt=0)
    unit_value: Decimal | None = Field(None, ge=0, description="Valor unitario sin IGV")
    unit_price: Decimal | None = Field(None, ge=0, description="Precio unitario con IGV (alternativa)")
    unit: str = Field("NIU", description="Unidad UN/ECE rec 20: NIU bienes, ZZ servicios")
    code: str | None = Field(None, max_length=30, description="Código interno del producto")
    sunat_code: str | None = Field(None, description="Código de producto SUNAT (UNSPSC)")
    affectation: str = Field(
        "10", description="Catálogo 07: 10 gravado, 20 exonerado, 30 inafecto, 11-16/21/31-36 gratuito, 40 exportación"
    )
    discount: Decimal = Field(Decimal("0"), ge=0, description="Descuento de la línea (afecta la base)")
    bags: int = Field(0, ge=0, description="Bolsas plásticas gravadas con ICBPER")

    @field_validator("affectation")
    @classmethod
    def _affectation(cls, v: str) -> str:
        if v not in catalogs.AFFECTATIONS:
            raise ValueError(
                f"tipo de afectación {v!r} no está en el catálogo 07 admitido "
                f"({', '.join(sorted(catalogs.AFFECTATIONS))})"
            )
        return v

    @model_validator(mode="after")
    def _value(self) -> Line:
        if (self.unit_value is None) == (self.unit_price is None):
            raise ValueError("indica unit_value (sin IGV) o unit_price (con IGV), uno de los dos")
        if self.unit_price is not None:
            taxed = self.affectation == catalogs.GRAVADO or self.affectation in catalogs.FREE_TAXED
            self.unit_value = self.unit_price / (1 + amounts.IGV_RATE) if taxed else self.unit_price
            self.unit_price = None
        return self


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_type: Literal["01", "03"] = Field(description="Tipo del comprobante que se modifica")
    id: str = Field(description="SERIE-CORRELATIVO del comprobante modificado, ej. F001-1")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[FB][A-Z0-9]{3}-\d{1,8}", v):
            raise ValueError(f"referencia {v!r} inválida: debe ser SERIE-CORRELATIVO, ej. F001-1")
        return v


class DocumentIn(BaseModel):
    """One document to issue (factura 01, boleta 03, nota de crédito 07, nota de débito 08)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["01", "03", "07", "08"]
    series: str
    external_id: str | None = Field(
        None, max_length=200, description="Tu referencia: reenviar el mismo valor no duplica"
    )
    issue_date: date | None = None
    issue_time: time | None = None
    due_date: date | None = None
    currency: str = "PEN"
    customer: Customer
    lines: list[Line] = Field(min_length=1, max_length=1000)
    reference: Reference | None = None
    note_reason: str | None = Field(None, description="Catálogo 09 (NC) o 10 (ND)")
    note_description: str | None = None
    observations: str | None = Field(None, max_length=500)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in catalogs.CURRENCIES:
            raise ValueError(f"moneda {v!r} no admitida ({', '.join(sorted(catalogs.CURRENCIES))})")
        return v

    @model_validator(mode="after")
    def _rules(self) -> DocumentIn:
        self.series = self.series.upper()
        if self.type in SERIES_PATTERN:
            if not re.fullmatch(SERIES_PATTERN[self.type], self.series):
                kind = "facturas" if self.type == "01" else "boletas"
                raise ValueError(f"serie {self.series!r} inválida para {kind}: debe ser {self.series_hint()}")
        else:
            self._note_rules()
        if self.type == "01" or (self.type in ("07", "08") and self.series.startswith("F")):
            if self.customer.doc_type != "6":
                raise ValueError("una factura (y sus notas) requiere un cliente con RUC (doc_type 6)")
        return self

    def series_hint(self) -> str:
        return {"01": "F + 3 caracteres, ej. F001", "03": "B + 3 caracteres, ej. B001"}.get(self.type, "F### o B###")

    def _note_rules(self) -> None:
        if self.reference is None:
            raise ValueError("una nota requiere 'reference' (doc_type y id del comprobante que modifica)")
        if not re.fullmatch(NOTE_SERIES_PATTERN, self.series):
            raise ValueError(f"serie {self.series!r} inválida para notas: F### o B###")
        if self.series[0] != self.reference.id[0]:
            raise ValueError(
                f"la serie {self.series} no corresponde a la del comprobante modificado {self.reference.id}"
            )
        reasons = catalogs.CREDIT_NOTE_REASONS if self.type == "07" else catalogs.DEBIT_NOTE_REASONS
        if self.note_reason not in reasons:
            cat = "09" if self.type == "07" else "10"
            raise ValueError(f"note_reason {self.note_reason!r} no está en el catálogo {cat} ({', '.join(reasons)})")


@dataclass
class LineTotals:
    value: Decimal  # LineExtensionAmount (referential value for free lines)
    unit_value: Decimal
    unit_price: Decimal  # with IGV, for PricingReference
    igv: Decimal
    icbper: Decimal
    free: bool
    tributo: catalogs.Tributo


@dataclass
class Totals:
    lines: list[LineTotals]
    by_tributo: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # code -> (base, tax)
    line_extension: Decimal = Decimal("0")
    igv: Decimal = Decimal("0")
    icbper: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    tax_inclusive: Decimal = Decimal("0")
    payable: Decimal = Decimal("0")
    free_value: Decimal = Decimal("0")


def compute_line(line: Line, year: int) -> LineTotals:
    assert line.unit_value is not None
    tributo = catalogs.tributo_of_affectation(line.affectation)
    value = amounts.sunat_round(line.quantity * line.unit_value - line.discount)
    if value < 0:
        raise ValueError(f"el descuento de '{line.description}' supera el valor de la línea")
    charges_igv = line.affectation == catalogs.GRAVADO or line.affectation in catalogs.FREE_TAXED
    igv = amounts.sunat_round(value * amounts.IGV_RATE) if charges_igv else Decimal("0.00")
    icbper = amounts.sunat_round(line.bags * amounts.icbper_rate(year))
    unit_price = line.unit_value * (1 + amounts.IGV_RATE) if charges_igv else line.unit_value
    return LineTotals(value, line.unit_value, unit_price, igv, icbper, catalogs.is_free(line.affectation), tributo)


def compute_totals(doc: DocumentIn, year: int) -> Totals:
    """SUNAT's totals: per-line rounding first, header amounts are sums of the rounded lines."""
    totals = Totals(lines=[compute_line(line, year) for line in doc.lines])
    for lt in totals.lines:
        base, tax = totals.by_tributo.get(lt.tributo.code, (Decimal("0"), Decimal("0")))
        totals.by_tributo[lt.tributo.code] = (base + lt.value, tax + lt.igv)
        totals.icbper += lt.icbper
        if lt.free:
            totals.free_value += lt.value
            continue
        totals.line_extension += lt.value
        totals.igv += lt.igv
    totals.tax_total = totals.igv + totals.icbper
    totals.tax_inclusive = totals.line_extension + totals.tax_total
    totals.payable = totals.tax_inclusive
    if doc.type == "03" and totals.payable > BOLETA_ANONYMOUS_LIMIT and doc.customer.doc_type in ("0", "-"):
        raise ValueError(
            f"boleta de {amounts.fmt(totals.payable)} supera S/ 700: indica DNI u otro documento del cliente"
        )
    return totals


def validation_message(exc: ValidationError) -> str:
    """One readable line per problem: 'lines.0.affectation: tipo de afectación …'."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse_document(data: dict[str, Any]) -> DocumentIn:
    return DocumentIn.model_validate(data)
