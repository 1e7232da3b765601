"""Chilean RUT: validated with python-stdnum (mod 11), written the way the SII and Facto want it."""

from __future__ import annotations

from stdnum.cl import rut as stdnum_rut
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError


class InvalidRut(ValueError):
    pass


def normalize_rut(value: str) -> str:
    """'76.086.428-5' → '76086428-5' (no dots, dash, upper-case K). Raises InvalidRut with the reason."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidRut("RUT vacío")
    try:
        compact = stdnum_rut.validate(raw)
    except InvalidChecksum as exc:
        raise InvalidRut(f"RUT {raw}: dígito verificador incorrecto") from exc
    except (InvalidFormat, InvalidLength) as exc:
        raise InvalidRut(f"RUT {raw}: formato inválido") from exc
    except ValidationError as exc:
        raise InvalidRut(f"RUT {raw}: inválido") from exc
    return f"{compact[:-1]}-{compact[-1]}"


def with_dots(rut: str) -> str:
    """'1111111-4' → '1.111.111-4' (Facto's API user is the company RUT with dots)."""
    body, dv = normalize_rut(rut).split("-")
    groups: list[str] = []
    while body:
        groups.insert(0, body[-3:])
        body = body[:-3]
    return ".".join(groups) + "-" + dv
