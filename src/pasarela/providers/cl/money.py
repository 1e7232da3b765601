"""Chilean money: CLP has no decimals; IVA is 19 %."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

IVA_RATE = Decimal("0.19")
IVA_FACTOR = Decimal("1.19")
UNIT_PLACES = Decimal("0.000001")  # Facto takes unit prices with up to 6 decimals


def round_clp(amount: Decimal) -> int:
    """Chile's rounding rule for DTE amounts: to the whole peso, halves away from zero."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def iva_of(neto: int) -> int:
    return round_clp(Decimal(neto) * IVA_RATE)


def net_unit_price(gross_line: Decimal, qty: Decimal) -> Decimal:
    """Net unit price with 6 decimals, so that qty × unit × 1.19 gives back the gross line to the peso."""
    return (gross_line / qty / IVA_FACTOR).quantize(UNIT_PLACES, rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """JSON numbers arrive as floats (399.0): go through str so 0.1 stays 0.1.

    Raises ValueError (which pydantic reports as a validation error) for anything not a finite number."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"se esperaba un monto, no {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"monto ilegible: {str(value)[:30]!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"monto no finito: {value!r}")
    return amount
