"""How a configuration section is declared once and then validated, documented and written.

Every section of ``pasarela.toml`` (the core ones and each provider's) is a pydantic model deriving from
`Section`: its fields are the keys, with their default, their type, a description (written as a comment
in the default file) and whether they hold a secret (redacted everywhere, generated at random in a new
file). `check` validates a raw TOML table against a model and reports every problem with its key path,
in Spanish; `toml_text` writes the default file's block for a section.
"""

from __future__ import annotations

import json
import secrets as _random
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

GENERATORS = {
    "urlsafe24": lambda: _random.token_urlsafe(24),
    "urlsafe12": lambda: _random.token_urlsafe(12),
    "hex16": lambda: _random.token_hex(16),
}


class Section(BaseModel):
    """A table of the configuration: unknown keys refused, values coerced (``"8"`` → 8) or refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)
    _settings: Any = PrivateAttr(default=None)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def bind(self, settings: Any) -> Section:
        """Keep the whole settings for values derived from other sections (public URL, home)."""
        self._settings = settings
        return self

    @property
    def settings(self) -> Any:
        return self._settings

    def secret_values(self) -> list[str]:
        """The values of this section's (and its subsections') secret keys, for redaction."""
        found: list[str] = []
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if _extra(info).get("secret") and isinstance(value, str) and value:
                found.append(value)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Section):
                    found.extend(item.secret_values())
        return found


def setting(default: Any = None, description: str = "", *, hidden: bool = False, **kwargs: Any) -> Any:
    """A key with its default and the comment written above it in a new configuration file.
    ``hidden``: accepted and validated, but not written in a new file (tuning and test knobs)."""
    extra: dict[str, Any] = {"hidden": True} if hidden else {}
    return Field(default, description=description, json_schema_extra=extra or None, **kwargs)


def secret(
    default: str = "", description: str = "", *, generate: str | None = None, hidden: bool = False, **kwargs: Any
) -> Any:
    """A key holding a secret: never logged or shown; ``generate`` fills a new file with a random one."""
    extra: dict[str, Any] = {"secret": True, "hidden": hidden}
    if generate:
        extra["generate"] = generate
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def _extra(info: Any) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


# --- validation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    key: str  # dotted path, e.g. "pe.mode" or "jumpseller.stores.0.facto.mode"
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


_MESSAGES = {
    "extra_forbidden": "clave desconocida",
    "missing": "falta este valor",
    "int_parsing": "debe ser un número entero",
    "int_type": "debe ser un número entero",
    "int_from_float": "debe ser un número entero",
    "float_parsing": "debe ser un número",
    "float_type": "debe ser un número",
    "bool_parsing": "debe ser true o false",
    "bool_type": "debe ser true o false",
    "string_type": "debe ser texto entre comillas",
    "list_type": "debe ser una lista",
    "dict_type": "debe ser una tabla",
    "model_type": "debe ser una tabla",
}


def _message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    got = error.get("input")
    read = f" (se leyó {json.dumps(got, ensure_ascii=False)})" if isinstance(got, str | int | float | bool) else ""
    if kind == "literal_error":
        return "debe ser uno de: " + str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ") + read
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"debe ser {sign} {bound}"
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "valor inválido")))
    text = _MESSAGES.get(kind, str(error.get("msg", "valor inválido")))
    return text if kind in ("extra_forbidden", "missing") else text + read


def check(path: str, model: type[Section], raw: Any) -> tuple[Section | None, list[Problem]]:
    """Validate one section; every problem carries its full key path."""
    try:
        return model.model_validate(raw if raw is not None else {}), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join([path, *(str(p) for p in error.get("loc", ()))]).strip(".")
            problems.append(Problem(where, _message(dict(error))))
        return None, problems


# --- writing the default file -----------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Section)


def toml_text(path: str, model: type[Section], values: Section | None = None, *, array: bool = False) -> str:
    """The block of a new configuration file for one section: comments, keys, generated secrets."""
    header = f"[[{path}]]" if array else f"[{path}]"
    lines = [header]
    doc = (model.__doc__ or "").strip().splitlines()
    if doc and not array:
        lines.insert(0, f"# {doc[0]}")
    tables: list[str] = []
    for name, info in model.model_fields.items():
        extra = _extra(info)
        if extra.get("hidden"):
            continue
        key = info.alias or name
        value = getattr(values, name) if values is not None else info.get_default(call_default_factory=True)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            tables.append(toml_text(f"{path}.{key}", annotation, value))
            continue
        if get_origin(annotation) is list and any(_is_section(a) for a in get_args(annotation)):
            item_model = next(a for a in get_args(annotation) if _is_section(a))
            tables.extend(toml_text(f"{path}.{key}", item_model, item, array=True) for item in value)
            continue
        if extra.get("generate"):  # a new file gets its own random secret, not the demo value
            value = GENERATORS[extra["generate"]]()
        for comment in (info.description or "").splitlines():
            lines.append(f"# {comment}")
        lines.append(f"{key} = {_toml_value(value)}")
    if not array and len(lines) == (2 if doc else 1):  # a table holding only subtables: no empty header
        lines = [lines[0]] if doc else []
    return "\n".join([*lines, *tables]).strip("\n") + "\n"
