"""JSON from outside, as RFC 8259 defines it: Python's json also accepts NaN and ±Infinity, which
PostgreSQL's json type (and most peers) refuse, so a body carrying them must be refused at the door."""

from __future__ import annotations

import json
from typing import Any


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON inválido: {name} no está permitido")


def loads(text: str | bytes) -> Any:
    """json.loads that raises ValueError for NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_refuse_constant)
