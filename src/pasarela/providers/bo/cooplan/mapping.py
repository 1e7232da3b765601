"""Cooplan wire records ↔ our typed values, and the checks made before any payment is sent."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pasarela.core.errors import InvalidInput
from pasarela.providers.bo.cooplan import assumptions as A

CENTAVO = Decimal("0.01")
MAX_MONTO = Decimal("9999999999.99")
_PERIODO = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")
_CONTRATO = re.compile(r"^[0-9A-Za-z-]{1,20}$")


def redondeo_bob(amount: Decimal) -> Decimal:
    """Bolivia's rounding rule for bolivianos: two decimals, half up."""
    return amount.quantize(CENTAVO, rounding=ROUND_HALF_UP)


def parse_monto(value: Any, field_name: str = "monto") -> Decimal:
    """Money arrives as a string ("136.76") or a number (145.7): both become Decimal."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{field_name}: {value!r} no es un monto válido", field_name) from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_MONTO:
        raise InvalidInput(f"{field_name}: {value!r} no es un monto válido (0 a {MAX_MONTO} Bs)", field_name)
    return redondeo_bob(amount)


def monto_wire(amount: Decimal) -> float:
    """`Monto` is a JSON number in the seed (145.7). repr of a 2-decimal float is exact text."""
    return float(redondeo_bob(amount))


def check_contrato(contrato: str) -> str:
    contrato = str(contrato).strip()
    if not _CONTRATO.match(contrato):
        raise InvalidInput(f"contrato {contrato!r} no válido: se espera el código de socio (p. ej. 345)", "contrato")
    return contrato


def check_periodo(periodo: str) -> str:
    periodo = str(periodo).strip()
    if not _PERIODO.match(periodo):
        raise InvalidInput(f"periodo {periodo!r} no válido: se espera AAAAMM (p. ej. 202110)", "periodo")
    return periodo


def check_fecha(fecha: str | date) -> date:
    if isinstance(fecha, date):
        return fecha
    try:
        return date.fromisoformat(str(fecha).strip())
    except ValueError as exc:
        raise InvalidInput(f"fecha {fecha!r} no válida: se espera AAAA-MM-DD (p. ej. 2021-11-05)", "fecha") from exc


def parse_fecha_pago(text: str) -> datetime:
    """`FechaPagoEmpresa` "26/11/2021 12:11:52", Bolivian local time [U: zone]."""
    return datetime.strptime(str(text).strip(), A.FECHA_PAGO_FORMAT).replace(tzinfo=A.BOLIVIA_TZ)


def bolivia_date(moment: datetime) -> date:
    return moment.astimezone(A.BOLIVIA_TZ).date()


def ident(value: Any) -> str:
    """Ids arrive as numbers or strings (IdCobranza is both in the seed): we keep strings."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass(frozen=True)
class Cliente:
    nombre: str
    factura: str
    num_doc: str
    tipo_documento: str
    nit: str
    direccion: str
    estado: int
    cod_ubicacion: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Deuda:
    id_asociado: str
    nombre: str
    cod_ubicacion: str
    periodo: str
    factura: str
    monto: Decimal
    estado: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "monto": str(self.monto)}


@dataclass(frozen=True)
class Cobro:
    id_cobranza: str
    fecha_pago: datetime
    fecha_pago_texto: str
    message: str


@dataclass(frozen=True)
class CobroReportado:
    id_cobranza: str
    id_factura: str
    contrato: str
    periodo: str
    monto: Decimal | None
    fecha: str
    estado: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "monto": None if self.monto is None else str(self.monto)}


@dataclass(frozen=True)
class ReporteCobranzas:
    fecha: date
    message: str
    rows: list[CobroReportado] = field(default_factory=list)
    has_rows: bool = False  # False when Cooplan answered only a text (the seed's example)
    raw_values: Any = None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def cliente_from_wire(row: dict[str, Any]) -> Cliente:
    return Cliente(
        nombre=_text(row.get("Nombre")),
        factura=ident(row.get("Factura")),
        num_doc=_text(row.get("NumDoc")),
        tipo_documento=_text(row.get("TipoDocumento")),
        nit=_text(row.get("Nit")),
        direccion=_text(row.get("Direccion")),
        estado=_int(row.get("estado")),
        cod_ubicacion=ident(row.get("CodUbicacion")),
    )


def deuda_from_wire(row: dict[str, Any]) -> Deuda:
    return Deuda(
        id_asociado=ident(row.get(A.ID_ASOCIADO_FROM_DEBT_FIELD)),
        nombre=_text(row.get("Nombre")),
        cod_ubicacion=ident(row.get("CodUbicacion")),
        periodo=_text(row.get("periodo")),
        factura=ident(row.get("factura")),
        monto=parse_monto(row.get("montoTotal"), "montoTotal"),
        estado=_int(row.get("estado")),
    )


def cobro_from_wire(values: Any, message: str) -> Cobro:
    if not isinstance(values, dict) or not values.get("IdCobranza"):
        raise ValueError(f"respuesta de realizarpago sin IdCobranza: {values!r}")
    fecha_texto = _text(values.get("FechaPagoEmpresa"))
    return Cobro(
        id_cobranza=ident(values["IdCobranza"]),
        fecha_pago=parse_fecha_pago(fecha_texto),
        fecha_pago_texto=fecha_texto,
        message=message.strip(),
    )


def reporte_from_wire(fecha: date, values: Any, message: str) -> ReporteCobranzas:
    if not isinstance(values, list):
        return ReporteCobranzas(fecha=fecha, message=_text(values) or message.strip(), raw_values=values)
    names = A.REPORT_ROW_FIELDS
    rows = []
    for row in values:
        if not isinstance(row, dict):
            continue
        monto = row.get(names["monto"])
        rows.append(
            CobroReportado(
                id_cobranza=ident(row.get(names["id_cobranza"])),
                id_factura=ident(row.get(names["id_factura"])),
                contrato=ident(row.get(names["contrato"])),
                periodo=_text(row.get(names["periodo"])),
                monto=None if monto in (None, "") else parse_monto(monto),
                fecha=_text(row.get(names["fecha"])),
                estado=_text(row.get(names["estado"])).upper(),
            )
        )
    return ReporteCobranzas(fecha=fecha, message=message.strip(), rows=rows, has_rows=True, raw_values=values)


def find_debt(debts: list[Deuda], periodo: str, factura: str | None = None) -> Deuda | None:
    for debt in debts:
        if debt.periodo == periodo and (not factura or debt.factura == str(factura)):
            return debt
    return None


def check_amount(debt: Deuda, monto: Decimal | None) -> Decimal:
    """The amount to pay is the debt's; a different one is refused with the reason (no partials [U])."""
    if monto is None:
        return debt.monto
    if redondeo_bob(monto) != debt.monto:
        partial = "" if A.PARTIAL_PAYMENTS_ALLOWED else "; Cooplan no admite pagos parciales ni excedentes"
        raise InvalidInput(
            f"el monto Bs {redondeo_bob(monto)} no coincide con la deuda del periodo {debt.periodo} "
            f"(factura {debt.factura}): Bs {debt.monto}{partial}",
            "monto",
        )
    return debt.monto


def pago_request(contrato: str, debt: Deuda) -> dict[str, Any]:
    """Realizar Pago body, with the seed's names and types."""
    factura: Any = int(debt.factura) if debt.factura.isdigit() else debt.factura
    return {
        "IdFactura": factura,
        "Periodo": debt.periodo,
        "Contrato": contrato,
        "Monto": monto_wire(debt.monto),
        "IdAsociado": debt.id_asociado,
    }
