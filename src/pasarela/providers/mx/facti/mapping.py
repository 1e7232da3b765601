"""Our payment request → Facti's `new_request` parameters, validated before anything is sent.

Field names are Facti's own (seed 001), so a request body reads like the seed. Errors are
InvalidInput in Spanish naming the field to fix.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from pasarela.core.errors import InvalidInput
from pasarela.providers.mx.identifiers import InvalidRFC, validate_rfc

CENT = Decimal("0.01")
GROUPED_FOLIO = "1"  # seed: when `folios` is sent, `folio` must be the fixed value 1
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[A-Za-z]{2,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CONCEPT_REQUIRED = ("quantity", "unit", "description", "pu")
INVOICE_RECEIVER_KEYS = (
    "rfc",
    "nombre",
    "domicilio_calle",
    "domicilio_no_ext",
    "domicilio_no_int",
    "domicilio_colonia",
    "domicilio_localidad",
    "domicilio_referencia",
    "domicilio_municipio",
    "domicilio_estado",
    "domicilio_pais",
    "domicilio_cp",
)
PASSTHROUGH_FLAGS = ("status", "send_email_to_client", "generate_invoice")


def round_up_cents(amount: Decimal) -> Decimal:
    """Facti's rule: at most 2 decimals, anything beyond is rounded UP (242.831 → 242.84)."""
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def parse_amount(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field}: {value!r} no es un importe", field) from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(f"{field}: el importe debe ser mayor que cero", field)
    return round_up_cents(amount)


def parse_emails(value: Any, field: str = "to_email") -> str:
    emails = [e.strip() for e in str(value or "").split(";") if e.strip()]
    if not emails:
        raise InvalidInput(f"{field} es obligatorio (uno o más correos separados por ;)", field)
    for email in emails:
        if not _EMAIL.match(email):
            raise InvalidInput(f"{field}: {email!r} no es un correo electrónico válido", field)
    return ";".join(emails)


def parse_date(value: Any, field: str) -> str:
    text = str(value).strip()
    try:
        if not _DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} debe ser una fecha AAAA-MM-DD", field) from None
    return text


def parse_rfc(value: Any, field: str, strict: bool) -> str:
    try:
        return validate_rfc(str(value), check_digit=strict)
    except InvalidRFC as exc:
        raise InvalidInput(f"{field}: {exc}", field) from None


def _flag(data: dict[str, Any], name: str) -> int | None:
    if data.get(name) in (None, ""):
        return None
    value = str(data[name]).strip().lower()
    mapping = {"0": 0, "1": 1, "true": 1, "false": 0}
    if value not in mapping:
        raise InvalidInput(f"{name} debe ser 0 o 1", name)
    return mapping[value]


def _required(data: dict[str, Any], name: str) -> str:
    value = str(data.get(name) if data.get(name) is not None else "").strip()
    if not value:
        raise InvalidInput(f"{name} es obligatorio", name)
    return value


def build_new_request(
    data: dict[str, Any], *, default_from_rfc: str, strict_rfc: bool = True, today: date | None = None
) -> dict[str, Any]:
    """Validate and normalise. Amounts come back as strings with 2 decimals, already rounded up."""
    today = today or date.today()
    params: dict[str, Any] = {}
    if data.get("serie"):
        params["serie"] = str(data["serie"]).strip()
    params["from_rfc"] = parse_rfc(data.get("from_rfc") or default_from_rfc, "from_rfc", strict_rfc)
    if data.get("to_rfc"):
        params["to_rfc"] = parse_rfc(data["to_rfc"], "to_rfc", strict_rfc)
    params["to_client_name"] = _required(data, "to_client_name")
    params["to_email"] = parse_emails(data.get("to_email"))
    total = parse_amount(data.get("total_amount") if data.get("total_amount") is not None else "", "total_amount")
    params["total_amount"] = str(total)
    for name in PASSTHROUGH_FLAGS:
        flag = _flag(data, name)
        if flag is not None:
            params[name] = flag
    if data.get("payment_date"):
        params["payment_date"] = parse_date(data["payment_date"], "payment_date")
    if data.get("limit_payment_date"):
        params["limit_payment_date"] = parse_date(data["limit_payment_date"], "limit_payment_date")
        if date.fromisoformat(params["limit_payment_date"]) < today:
            raise InvalidInput("limit_payment_date no puede ser anterior a hoy", "limit_payment_date")
    if data.get("payment_ways_ids"):
        params["payment_ways_ids"] = _int_list(data["payment_ways_ids"], "payment_ways_ids")
    if data.get("folios"):
        params.update(_grouped(data, total))
    else:
        params["folio"] = _required(data, "folio")
    if data.get("conceptos"):
        params["conceptos"] = [_concept(c, i) for i, c in enumerate(_list(data["conceptos"], "conceptos"))]
    if data.get("invoice_receiver"):
        params["invoice_receiver"] = _invoice_receiver(data["invoice_receiver"], strict_rfc)
    if params.get("generate_invoice") == 1 and "invoice_receiver" not in params:
        raise InvalidInput("generate_invoice=1 requiere invoice_receiver con al menos el rfc", "invoice_receiver")
    return params


def _list(value: Any, field: str) -> list[Any]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{field} debe ser una lista", field)
    return list(value)


def _int_list(value: Any, field: str) -> list[int]:
    try:
        return [int(str(v)) for v in _list(value, field)]
    except ValueError:
        raise InvalidInput(f"{field} debe ser una lista de ids numéricos", field) from None


def _grouped(data: dict[str, Any], total: Decimal) -> dict[str, Any]:
    folios = [str(f).strip() for f in _list(data["folios"], "folios")]
    if any(not f for f in folios):
        raise InvalidInput("folios: ningún folio puede ir vacío", "folios")
    series = [str(s or "") for s in _list(data.get("series") or [""] * len(folios), "series")]
    if len(series) != len(folios):
        raise InvalidInput(f"series tiene {len(series)} elementos y folios {len(folios)}; deben coincidir", "series")
    raw_amounts = _list(data.get("total_amounts") or [], "total_amounts")
    if len(raw_amounts) != len(folios):
        raise InvalidInput(
            f"total_amounts tiene {len(raw_amounts)} importes y folios {len(folios)}; deben coincidir",
            "total_amounts",
        )
    amounts = [parse_amount(a, f"total_amounts[{i}]") for i, a in enumerate(raw_amounts)]
    if sum(amounts, Decimal(0)) != total:
        raise InvalidInput(
            f"la suma de total_amounts ({sum(amounts, Decimal(0))}) no coincide con total_amount ({total})",
            "total_amounts",
        )
    return {
        "folio": GROUPED_FOLIO,
        "folios": folios,
        "series": series,
        "total_amounts": [str(a) for a in amounts],
    }


def _concept(item: Any, index: int) -> dict[str, Any]:
    field = f"conceptos[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{field} debe ser un objeto", field)
    missing = [k for k in CONCEPT_REQUIRED if item.get(k) in (None, "")]
    if missing:
        raise InvalidInput(f"{field}: faltan {', '.join(missing)}", field)
    concept: dict[str, Any] = {
        "quantity": str(_number(item["quantity"], f"{field}.quantity")),
        "unit": str(item["unit"]),
        "description": str(item["description"]),
        "pu": str(_number(item["pu"], f"{field}.pu")),
    }
    if item.get("total") not in (None, ""):
        concept["total"] = str(_number(item["total"], f"{field}.total"))
    if item.get("details"):
        concept["details"] = str(item["details"])
    return concept


def _number(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{field}: {value!r} no es un número", field) from None
    if not number.is_finite() or number < 0:
        raise InvalidInput(f"{field}: debe ser un número no negativo", field)
    return number


def _invoice_receiver(value: Any, strict_rfc: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("invoice_receiver debe ser un objeto", "invoice_receiver")
    unknown = sorted(set(value) - set(INVOICE_RECEIVER_KEYS))
    if unknown:
        raise InvalidInput(f"invoice_receiver: campos desconocidos {', '.join(unknown)}", "invoice_receiver")
    receiver = {k: str(v) for k, v in value.items() if v is not None}
    receiver["rfc"] = parse_rfc(value.get("rfc") or "", "invoice_receiver.rfc", strict_rfc)
    return receiver


def idempotency_key(params: dict[str, Any], caller_key: str | None = None) -> str:
    """The caller's key, or the invoice identity: issuer RFC + serie + folio (or the grouped folios)."""
    if caller_key and str(caller_key).strip():
        return f"facti:key:{str(caller_key).strip()}"
    if params.get("folios"):
        parts = ",".join(f"{s}-{f}" for s, f in zip(params["series"], params["folios"], strict=True))
        return f"facti:{params['from_rfc']}:grupo:{parts}"
    return f"facti:{params['from_rfc']}:{params.get('serie', '')}:{params['folio']}"


def source_ref(params: dict[str, Any]) -> str:
    if params.get("folios"):
        return "grupo " + ",".join(f for f in params["folios"])
    return f"{params.get('serie', '')}-{params['folio']}".lstrip("-")
