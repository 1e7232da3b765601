"""HTTP to providers: every call audited (secrets redacted), and ONE place — `classify` — that decides what
an exception or an HTTP status means for a call (DESIGN.md, "Outcome of a provider call"):

    classify(exception | response, idempotent=False) -> ProviderError | None

    exception   ConnectError, ConnectTimeout, UnsupportedProtocol, PoolTimeout  → SurelyNotSent (nothing left)
                any other TransportError (read/write timeout, reset, protocol)   → MaybeSent (it may have arrived)
    response    429, 503 (refused at the door, not processed)                    → SurelyNotSent, with Retry-After
                any other 5xx                                                    → MaybeSent
                anything else                                                    → None: the provider's answer,
                                                                                   for its client to read
    idempotent  a read may be asked again: MaybeSent becomes SurelyNotSent

Clients never look at a status to choose an outcome; they read answers. A provider whose errors come with a
5xx and a readable body (SOAP faults) passes those statuses as ``answers=`` and reads them first, then asks
`classify` about whatever it could not read.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from pasarela.core.errors import MaybeSent, ProviderError, SurelyNotSent
from pasarela.core.redact import Redactor

AUDIT_BODY_LIMIT = 64_000
REFUSED_AT_THE_DOOR = (429, 503)
# For providers whose errors come as a 5xx with a readable body (SOAP faults, JSON envelopes).
READABLE_5XX = tuple(status for status in range(500, 600) if status not in REFUSED_AT_THE_DOOR)
NOTHING_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.PoolTimeout)

# Sink that stores one audit row; the worker passes one bound to the ledger.
AuditSink = Callable[[dict[str, Any]], None]
# Changes an audit row before it is stored (e.g. masks a token inside a response body).
AuditHook = Callable[[dict[str, Any]], dict[str, Any]]


def _no_audit(_: dict[str, Any]) -> None:
    return None


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def classify(
    outcome: httpx.Response | BaseException, provider: str, *, idempotent: bool = False
) -> ProviderError | None:
    """What a call's exception or response means, or None when the response is the provider's answer."""
    error: ProviderError | None
    if isinstance(outcome, BaseException):
        name = type(outcome).__name__
        if isinstance(outcome, NOTHING_LEFT):
            return SurelyNotSent(f"{provider}: no se pudo conectar ({name})")
        error = MaybeSent(f"{provider}: sin respuesta después de enviar ({name}); la solicitud pudo haber llegado")
    elif outcome.status_code in REFUSED_AT_THE_DOOR:
        return SurelyNotSent(
            f"{provider}: no disponible (HTTP {outcome.status_code}), no procesado; se reintentará",
            retry_after=retry_after(outcome),
        )
    elif outcome.status_code >= 500:
        error = MaybeSent(f"{provider}: HTTP {outcome.status_code} después de enviar; la solicitud pudo haber llegado")
    else:
        return None
    if idempotent:
        return SurelyNotSent(f"{error.message} (consulta: se repetirá)")
    return error


@dataclass
class ProviderHTTP:
    """httpx.Client that audits every call and raises what `classify` says. Clients build on it."""

    provider: str
    timeout: float = 30.0
    connect_timeout: float = 5.0
    secrets: Iterable[str] = ()
    audit: AuditSink = _no_audit
    document_id: int | None = None
    transport: httpx.BaseTransport | None = None
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.secrets = list(self.secrets)
        self.redactor = Redactor(self.secrets)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout), transport=self.transport
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def add_secret(self, value: str) -> None:
        """A secret learnt during the session (a token): redacted from here on."""
        if value and value not in self.secrets:
            self.secrets = [*self.secrets, value]
            self.redactor = Redactor(self.secrets)

    def request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        answers: Iterable[int] = (),
        idempotent: bool = False,
        audit_hook: AuditHook | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request and return the response the client must read. Raises SurelyNotSent or MaybeSent
        (see `classify`) — except for statuses in ``answers``, which the client reads itself."""
        started = time.monotonic()
        record = self._record(operation, method, url, self._body_text(kwargs))
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            error = classify(exc, self.provider, idempotent=idempotent)
            assert error is not None
            self._finish(record, started, audit_hook, outcome=str(error.outcome), error=f"{type(exc).__name__}: {exc}")
            raise error from exc
        record["http_status"] = response.status_code
        record["response_body"] = self.redactor.text(_body_for_audit(response))
        error = None if response.status_code in answers else classify(response, self.provider, idempotent=idempotent)
        self._finish(record, started, audit_hook, outcome=str(error.outcome) if error else "")
        if error is not None:
            raise error
        return response

    def download(
        self,
        operation: str,
        url: str,
        target: Path,
        *,
        idempotent: bool = True,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[int, str]:
        """Stream ``url`` to ``target`` (temp file, fsync, rename: all or nothing on disk) with the same audit
        and `classify`; a non-200 answer is refused. Returns (size, sha256)."""
        started = time.monotonic()
        record = self._record(operation, "GET", url, "")
        partial = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with self.client.stream("GET", url) as response, open(partial, "wb") as out:
                record["http_status"] = response.status_code
                error = classify(response, self.provider, idempotent=idempotent)
                if error is None and response.status_code != 200:
                    error = SurelyNotSent(f"{self.provider}: la descarga respondió HTTP {response.status_code}")
                if error is not None:
                    response.read()
                    self._finish(record, started, None, outcome=str(error.outcome))
                    raise error
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if on_progress:
                        on_progress(size)
                out.flush()
                os.fsync(out.fileno())
        except httpx.TransportError as exc:
            error = classify(exc, self.provider, idempotent=idempotent)
            assert error is not None
            self._finish(record, started, None, outcome=str(error.outcome), error=f"{type(exc).__name__}: {exc}")
            raise error from exc
        os.replace(partial, target)
        record["response_body"] = f"<{size} bytes, sha256 {digest.hexdigest()}>"
        self._finish(record, started, None)
        return size, digest.hexdigest()

    def _record(self, operation: str, method: str, url: str, body: str) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "operation": operation,
            "method": method,
            "url": self.redactor.text(str(url)),
            "request_body": body,
            "document_id": self.document_id,
        }

    def _body_text(self, kwargs: dict[str, Any]) -> str:
        for key in ("content", "data", "json", "params"):
            if kwargs.get(key) is not None:
                value = kwargs[key]
                text = _decode(value) if isinstance(value, bytes) else str(value)
                return self.redactor.text(text)
        return ""

    def _finish(
        self, record: dict[str, Any], started: float, hook: AuditHook | None, outcome: str = "", error: str = ""
    ) -> None:
        record["duration_ms"] = int((time.monotonic() - started) * 1000)
        record["outcome"] = outcome
        record["error"] = self.redactor.text(error)
        for key in ("request_body", "response_body"):
            if len(record.get(key, "")) > AUDIT_BODY_LIMIT:
                record[key] = record[key][:AUDIT_BODY_LIMIT] + "…[truncado]"
        self.audit(hook(record) if hook else record)


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
