"""JSON from outside, as RFC 8259 defines it: Python's json also accepts NaN and ±Infinity, which
PostgreSQL's json type (and most peers) refuse, so a body carrying them must be refused at the door.
So is a string holding U+0000 (``"\\u0000"``): valid JSON, but PostgreSQL's text and jsonb cannot store it,
and the write would fail later with no clear answer to the sender."""

from __future__ import annotations

import json
from typing import Any


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON inválido: {name} no está permitido")


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("JSON inválido: el carácter U+0000 no está permitido")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


def loads(text: str | bytes) -> Any:
    """json.loads that raises ValueError for NaN, Infinity, -Infinity and strings holding U+0000."""
    value = json.loads(text, parse_constant=_refuse_constant)
    _refuse_nul(value)
    return value
