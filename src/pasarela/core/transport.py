"""HTTP to providers: every call audited (secrets redacted) and every failure classified as
"surely not sent" or "may have been sent" (DESIGN.md)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pasarela.core.errors import MaybeSent, SurelyNotSent
from pasarela.core.redact import Redactor

AUDIT_BODY_LIMIT = 64_000

# Sink that stores one audit row; the worker passes one bound to the ledger.
AuditSink = Callable[[dict[str, Any]], None]


def _no_audit(_: dict[str, Any]) -> None:
    return None


@dataclass
class ProviderHTTP:
    """A thin wrapper over httpx.Client that audits and classifies. Clients build on it."""

    provider: str
    timeout: float = 30.0
    connect_timeout: float = 5.0
    secrets: Iterable[str] = ()
    audit: AuditSink = _no_audit
    document_id: int | None = None
    transport: httpx.BaseTransport | None = None
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.redactor = Redactor(self.secrets)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                transport=self.transport,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def request(self, operation: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request. Raises SurelyNotSent or MaybeSent for transport failures;
        any HTTP status is returned for the client to interpret."""
        started = time.monotonic()
        record: dict[str, Any] = {
            "provider": self.provider,
            "operation": operation,
            "method": method,
            "url": self.redactor.text(str(url)),
            "request_body": self._body_text(kwargs),
            "document_id": self.document_id,
        }
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.PoolTimeout) as exc:
            self._finish(record, started, outcome="retry", error=f"{type(exc).__name__}: {exc}")
            raise SurelyNotSent(f"{self.provider}: no se pudo conectar ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # read/write timeout, reset, protocol error after sending
            self._finish(record, started, outcome="in_doubt", error=f"{type(exc).__name__}: {exc}")
            raise MaybeSent(
                f"{self.provider}: sin respuesta después de enviar ({type(exc).__name__}); "
                "la solicitud pudo haber llegado"
            ) from exc
        record["http_status"] = response.status_code
        record["response_body"] = self.redactor.text(_body_for_audit(response))
        self._finish(record, started)
        return response

    def _body_text(self, kwargs: dict[str, Any]) -> str:
        for key in ("content", "data", "json", "params"):
            if kwargs.get(key) is not None:
                value = kwargs[key]
                text = _decode(value) if isinstance(value, bytes) else str(value)
                return self.redactor.text(text)
        return ""

    def _finish(self, record: dict[str, Any], started: float, outcome: str = "", error: str = "") -> None:
        record["duration_ms"] = int((time.monotonic() - started) * 1000)
        record["outcome"] = outcome
        record["error"] = self.redactor.text(error)
        for key in ("request_body", "response_body"):
            if len(record.get(key, "")) > AUDIT_BODY_LIMIT:
                record[key] = record[key][:AUDIT_BODY_LIMIT] + "…[truncado]"
        self.audit(record)


TEXT_TYPES = ("text/", "xml", "json", "x-www-form-urlencoded", "javascript", "soap")


def _body_for_audit(response: httpx.Response) -> str:
    """Text bodies as text; files (PDF, PNG, ZIP) as a one-line summary — they are kept as artifacts."""
    content_type = response.headers.get("content-type", "").lower()
    content = response.content
    if content and (not any(t in content_type for t in TEXT_TYPES) or b"\x00" in content[:4096]):
        digest = hashlib.sha256(content).hexdigest()[:16]
        return f"<{len(content)} bytes {content_type or 'binary'}, sha256 {digest}…>"
    return _decode(content)


def _decode(content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    return text.replace("\x00", "\\0")  # PostgreSQL text cannot hold NUL
