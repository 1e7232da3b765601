"""Money, numbers, dates and times as each country writes them — the same in the console, the CLI and
the PDFs: ``$21.970`` (Chile), ``S/ 3,733.62`` (Perú), ``$1,234.57 MXN`` (México), ``Bs 136,76``
(Bolivia). Dates dd-mm-aaaa in Chile, dd/mm/aaaa elsewhere; times in the country's own zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CountryFormat:
    currency: str  # the country's own currency code
    thousands: str
    decimal: str
    decimals: int  # of the country's own currency
    date_sep: str
    zone: str


COUNTRIES: dict[str, CountryFormat] = {
    "CL": CountryFormat("CLP", ".", ",", 0, "-", "America/Santiago"),
    "PE": CountryFormat("PEN", ",", ".", 2, "/", "America/Lima"),
    "MX": CountryFormat("MXN", ",", ".", 2, "/", "America/Mexico_City"),
    "BO": CountryFormat("BOB", ".", ",", 2, "/", "America/La_Paz"),
}
# How each currency is written: (prefix, suffix).
SYMBOLS: dict[str, tuple[str, str]] = {
    "CLP": ("$", ""),
    "PEN": ("S/ ", ""),
    "MXN": ("$", " MXN"),
    "BOB": ("Bs ", ""),
    "USD": ("US$ ", ""),
}


def country_format(country: str) -> CountryFormat:
    return COUNTRIES.get((country or "").upper(), COUNTRIES["PE"])


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def number(value: object, country: str, decimals: int | None = None) -> str:
    """``1234.5`` → ``1.234,50`` (BO) / ``1,234.50`` (PE, MX) / ``1.235`` (CL, no decimals)."""
    fmt = country_format(country)
    amount = _decimal(value)
    if amount is None:
        return "" if value in (None, "") else str(value)
    places = fmt.decimals if decimals is None else decimals
    quantum = Decimal(1).scaleb(-places)
    text = f"{abs(amount.quantize(quantum, rounding=ROUND_HALF_UP)):,.{places}f}"
    text = text.replace(",", "\x00").replace(".", fmt.decimal).replace("\x00", fmt.thousands)
    return f"-{text}" if amount < 0 and text.strip("0.,") else text


def money(value: object, country: str, currency: str | None = None) -> str:
    """An amount with its currency as the country writes it; USD keeps two decimals everywhere."""
    fmt = country_format(country)
    code = (currency or fmt.currency).upper()
    decimals = fmt.decimals if code == fmt.currency else 2
    text = number(value, country, decimals)
    if not text:
        return ""
    prefix, suffix = SYMBOLS.get(code, ("", f" {code}"))
    if code == "USD" and country.upper() == "MX":
        prefix, suffix = "$", " USD"
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}{prefix}{digits}{suffix}"


def local_datetime(moment: datetime, country: str) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(country_format(country).zone))


def date_text(value: date | datetime | str | None, country: str) -> str:
    """``2026-12-04`` → ``04-12-2026`` (CL) or ``04/12/2026``; a datetime is first put in the country's zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = local_datetime(value, country).date()
    sep = country_format(country).date_sep
    return f"{value.day:02d}{sep}{value.month:02d}{sep}{value.year:04d}"


def datetime_text(value: datetime | str | None, country: str, seconds: bool = False) -> str:
    """A moment in the country's zone: ``04/12/2026 19:03``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    local = local_datetime(value, country)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{date_text(local.date(), country)} {clock}"
