"""Removing secrets from anything we store or show."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_AUTH_HEADER = re.compile(r"(?i)(authorization|autorizacion|x-api-key)(\"?\s*[:=]\s*\"?)([^\"\r\n,}]+)")
_PASSWORD_ELEMENT = re.compile(r"(?is)(<(?:\w+:)?(?:Password|password|pass|clave|Pwd|api_key)\b[^>]*>)(.*?)(</)")
_FORM_SECRET = re.compile(r"(?i)\b(api_key|password|pwd|ipn_password|hooks_token|token|clave)=([^&\s]+)")
SENSITIVE_HEADERS = {"authorization", "autorizacion", "cookie", "x-api-key", "jumpseller-hmac-sha256"}


class Redactor:
    """Masks known secret values (and their base64 forms) and password-shaped fields."""

    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if s and len(s) >= 4}
        encoded = set()
        for value in values:
            encoded.add(base64.b64encode(value.encode()).decode())
        self._values = sorted(values | encoded, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        text = _PASSWORD_ELEMENT.sub(lambda m: m.group(1) + MASK + m.group(3), text)
        text = _FORM_SECRET.sub(lambda m: m.group(1) + "=" + MASK, text)
        return text

    def headers(self, headers: dict[str, Any]) -> dict[str, Any]:
        return {k: (MASK if k.lower() in SENSITIVE_HEADERS else self.text(str(v))) for k, v in headers.items()}

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
