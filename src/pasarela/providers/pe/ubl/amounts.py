"""Money for SUNAT: the rounding rule, the IGV rate, and amounts in words (Note 1000)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from num2words import num2words

IGV_RATE = Decimal("0.18")
IGV_PERCENT = Decimal("18")
# ICBPER per bag, by year (Ley 30884). Years before 2023 only matter for old documents. [S]
ICBPER_PER_UNIT = {2019: Decimal("0.10"), 2020: Decimal("0.20"), 2021: Decimal("0.30"), 2022: Decimal("0.40")}
ICBPER_FROM_2023 = Decimal("0.50")
CENT = Decimal("0.01")
# SUNAT tolerates ±1 (one sol) between a declared amount and its recomputation in most checks.
SUNAT_TOLERANCE = Decimal("1")


def sunat_round(value: Decimal) -> Decimal:
    """SUNAT's rounding: half-up to 2 decimals (every amount in the XML)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def icbper_rate(year: int) -> Decimal:
    return ICBPER_PER_UNIT.get(year, ICBPER_FROM_2023 if year >= 2023 else Decimal("0.10"))


def fmt(value: Decimal) -> str:
    """Amounts as SUNAT prints them: exactly 2 decimals."""
    return f"{sunat_round(value):.2f}"


def fmt_price(value: Decimal) -> str:
    """Unit prices keep up to 10 decimals (SUNAT allows them) but at least 2."""
    text = f"{value.quantize(Decimal('1e-10'), rounding=ROUND_HALF_UP):f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def fmt_quantity(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


CURRENCY_WORDS = {"PEN": "SOLES", "USD": "DÓLARES AMERICANOS", "EUR": "EUROS"}


def amount_in_words(amount: Decimal, currency: str = "PEN") -> str:
    """'CIENTO DIECIOCHO CON 00/100 SOLES' — the legend SUNAT requires in Note 1000."""
    amount = sunat_round(amount)
    whole = int(amount)
    cents = int((amount - whole) * 100)
    words = num2words(whole, lang="es").upper()
    return f"{words} CON {cents:02d}/100 {CURRENCY_WORDS.get(currency, currency)}"
