"""Mexican identifiers shared by the Mexican providers: RFC (via python-stdnum) and CLABE.

Small and stable on purpose: other packages import it.
"""

from __future__ import annotations

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.mx import rfc as stdnum_rfc

# The SAT's generic RFCs: público en general (national) and extranjero (foreign). XAXX010101000
# fails the checksum by design, so both are accepted as they are.
GENERIC_RFCS = frozenset({"XAXX010101000", "XEXX010101000"})

CLABE_LENGTH = 18
CLABE_WEIGHTS = (3, 7, 1)
STP_BANK_CODE = "646"


class InvalidRFC(ValueError):
    """An RFC that is not valid; the message is in Spanish and safe to show."""


def normalize_rfc(value: str) -> str:
    return "".join(str(value).split()).upper()


def validate_rfc(value: str, *, check_digit: bool = True) -> str:
    """Return the normalised RFC or raise InvalidRFC.

    The format and the date are always checked; the check digit too unless ``check_digit`` is
    False (SAT data contains RFCs whose check digit fails, so data *from* a provider is read with
    check_digit=False).
    """
    rfc = normalize_rfc(value)
    if rfc in GENERIC_RFCS:
        return rfc
    try:
        return str(stdnum_rfc.validate(rfc, validate_check_digits=check_digit))
    except InvalidChecksum as exc:
        raise InvalidRFC(f"RFC {rfc!r}: el dígito verificador no corresponde") from exc
    except ValidationError as exc:
        raise InvalidRFC(
            f"RFC {rfc!r} no es válido (formato AAAA000000XXX, 12 o 13 caracteres con fecha válida)"
        ) from exc


def is_valid_rfc(value: str, *, check_digit: bool = True) -> bool:
    try:
        validate_rfc(value, check_digit=check_digit)
    except InvalidRFC:
        return False
    return True


def clabe_check_digit(first17: str) -> str:
    """The CLABE control digit: weights 3,7,1 over the first 17 digits, each product mod 10."""
    if len(first17) != CLABE_LENGTH - 1 or not first17.isdigit():
        raise ValueError("se necesitan los primeros 17 dígitos de la CLABE")
    total = sum((int(d) * CLABE_WEIGHTS[i % 3]) % 10 for i, d in enumerate(first17))
    return str((10 - total % 10) % 10)


def is_valid_clabe(value: str) -> bool:
    value = str(value or "")
    return len(value) == CLABE_LENGTH and value.isdigit() and clabe_check_digit(value[:17]) == value[17]


def make_clabe(first17: str) -> str:
    return first17 + clabe_check_digit(first17)
