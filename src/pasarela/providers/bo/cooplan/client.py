"""Cooplan wire protocol (seed 003): token, buscarcliente, consultardeuda, realizarpago,
imprimirfactura, reportecobranzas, revertirpago. Knows nothing of the ledger."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from pasarela.core.errors import SurelyNotSent
from pasarela.core.redact import MASK
from pasarela.core.transport import READABLE_5XX, ProviderHTTP, classify
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan import mapping
from pasarela.providers.bo.cooplan.config import CooplanConfig
from pasarela.providers.bo.cooplan.errors import (
    CooplanAuthError,
    CooplanBadResponse,
    CooplanRefused,
    TokenRefused,
)
from pasarela.providers.bo.cooplan.mapping import Cliente, Cobro, Deuda, ReporteCobranzas


@dataclass
class _Token:
    value: str
    obtained: float
    lifetime: float  # seconds; 0 = unknown, keep until refused


class TokenCache:
    """Tokens shared by every client of this process, one per (base URL, login)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _Token] = {}
        self.logins = 0  # how many times a token was fetched (observability and tests)

    def get(self, key: tuple[str, str], max_age: float) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
            if token is None:
                return None
            age = time.monotonic() - token.obtained
            limit = min(x for x in (token.lifetime, max_age, float("inf")) if x > 0)
            if age >= limit:
                del self._tokens[key]
                return None
            return token.value

    def put(self, key: tuple[str, str], value: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = _Token(value, time.monotonic(), lifetime)
            self.logins += 1

    def forget(self, key: tuple[str, str], value: str) -> None:
        with self._lock:
            if key in self._tokens and self._tokens[key].value == value:
                del self._tokens[key]


PROCESS_TOKENS = TokenCache()


class CooplanClient:
    def __init__(self, config: CooplanConfig, http: ProviderHTTP, tokens: TokenCache = PROCESS_TOKENS):
        self.config = config
        self.http = http
        self.tokens = tokens
        self._key = (config.url, config.login)

    # --- services ----------------------------------------------------------------------------------

    def buscar_cliente(self, contrato: str) -> list[Cliente]:
        values = self._call("buscarcliente", {"Contrato": mapping.check_contrato(contrato)})
        return [mapping.cliente_from_wire(row) for row in _as_list(values)]

    def consultar_deuda(self, contrato: str) -> list[Deuda]:
        values = self._call("consultardeuda", {"Contrato": mapping.check_contrato(contrato)})
        return [mapping.deuda_from_wire(row) for row in _as_list(values)]

    def realizar_pago(self, contrato: str, debt: Deuda) -> Cobro:
        body = mapping.pago_request(mapping.check_contrato(contrato), debt)
        envelope = self._call_envelope("realizarpago", body)
        try:
            return mapping.cobro_from_wire(envelope.get("values"), str(envelope.get("message") or ""))
        except ValueError as exc:
            # Cooplan said "done" but we cannot read the receipt: it may have charged.
            raise CooplanBadResponse(f"realizarpago: {exc}") from exc

    def imprimir_factura(self, id_factura: str, id_cobranza: str) -> Any:
        body = {"IdFactura": _num(id_factura), "IdCobranza": mapping.ident(id_cobranza)}
        return self._call("imprimirfactura", body)

    def reporte_cobranzas(self, fecha: date | str) -> ReporteCobranzas:
        day = mapping.check_fecha(fecha)
        envelope = self._call_envelope("reportecobranzas", {"Fecha": day.isoformat()})
        return mapping.reporte_from_wire(day, envelope.get("values"), str(envelope.get("message") or ""))

    def revertir_pago(self, id_factura: str, id_cobranza: str) -> str:
        """Success is `values == 1`; returns Cooplan's message."""
        body = {"IdFactura": _num(id_factura), "IdCobranza": _num(id_cobranza)}
        envelope = self._call_envelope("revertirpago", body)
        if str(envelope.get("values")).strip() not in ("1", "True", "true"):
            raise CooplanBadResponse(f"revertirpago respondió values={envelope.get('values')!r} (se esperaba 1)")
        return str(envelope.get("message") or "").strip()

    # --- envelope and token --------------------------------------------------------------------------

    def _call(self, operation: str, body: dict[str, Any]) -> Any:
        return self._call_envelope(operation, body).get("values")

    def _call_envelope(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self._token()
        try:
            return self._post(operation, body, token)
        except TokenRefused:
            # Refused before processing (401/403): renew and send once more; never a third time.
            self.tokens.forget(self._key, token)
            try:
                return self._post(operation, body, self._token())
            except TokenRefused as exc:
                raise CooplanAuthError(
                    f"Cooplan rechazó un token recién emitido en {operation}; revise Login/Pwd/CodSeguridad"
                ) from exc

    def _post(self, operation: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        headers = {name: f"Bearer {token}" for name in A.AUTH_HEADERS}
        response = self.http.request(
            operation, "POST", self._url(f"/api/{operation}"), json=body, headers=headers, answers=READABLE_5XX
        )
        if response.status_code in A.AUTH_REFUSED_HTTP_STATUSES:
            raise TokenRefused(operation)
        return self._envelope(operation, response)

    def _envelope(self, operation: str, response: httpx.Response, *, idempotent: bool = False) -> dict[str, Any]:
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "error" not in envelope:
            raise classify(response, f"cooplan {operation}", idempotent=idempotent) or CooplanBadResponse(
                f"{operation}: respuesta HTTP {response.status_code} sin el sobre de Cooplan; pudo haberse procesado"
            )
        if not A.envelope_ok(envelope):
            raise CooplanRefused(operation, envelope, response.status_code)
        return envelope

    def _token(self) -> str:
        cached = self.tokens.get(self._key, self.config.token_max_age_seconds)
        return cached if cached is not None else self._login()

    def _login(self) -> str:
        """Token service: path and fields are assumptions (see assumptions.TOKEN_PATH)."""
        body = dict(zip(A.TOKEN_FIELDS, (self.config.codseguridad, self.config.login, self.config.pwd), strict=True))
        # idempotent: only the login may have been received, the operation itself was surely not sent.
        response = self.http.request(
            "token",
            "POST",
            self._url(A.TOKEN_PATH),
            json=body,
            idempotent=True,
            answers=READABLE_5XX,
            audit_hook=_mask_token_record,
        )
        if response.status_code in A.AUTH_REFUSED_HTTP_STATUSES:
            raise CooplanAuthError("Cooplan rechazó las credenciales (CodSeguridad/Login/Pwd)")
        try:
            envelope = self._envelope("token", response, idempotent=True)
        except CooplanRefused as exc:
            raise CooplanAuthError(f"Cooplan no emitió el token: {exc.provider_message or exc.system_message}") from exc
        except CooplanBadResponse as exc:
            raise SurelyNotSent(exc.message) from exc
        token, lifetime = _token_from_values(envelope.get("values"))
        if not token:
            raise CooplanAuthError("el servicio de token de Cooplan no devolvió un token")
        self.tokens.put(self._key, token, lifetime)
        self.http.add_secret(token)
        return token

    def _url(self, path: str) -> str:
        base = self.config.url
        if base.startswith("http://") and self.config.mode != "simulator" and not self.config.allow_plain_http:
            raise CooplanAuthError(
                f"la URL de Cooplan {base} no usa https; confírmela con PagoFácil o ponga allow_plain_http = true"
            )
        return base + path


def _token_from_values(values: Any) -> tuple[str, float]:
    if isinstance(values, str):
        return values.strip(), 0.0
    if isinstance(values, dict):
        token = next((str(values[k]) for k in A.TOKEN_VALUE_KEYS if values.get(k)), "")
        lifetime = 0.0
        for key in A.TOKEN_LIFETIME_KEYS:
            if values.get(key):
                seconds = float(values[key])
                lifetime = seconds * 60 if "Minutes" in key else seconds
                break
        return token, lifetime
    return "", 0.0


def _mask_token_record(record: dict[str, Any]) -> dict[str, Any]:
    text = record.get("response_body") or ""
    try:
        body = json.loads(text)
    except ValueError:
        return {**record, "response_body": MASK if text else ""}
    if isinstance(body, dict) and "values" in body:
        values = body["values"]
        if isinstance(values, dict):
            body["values"] = {k: (MASK if k in A.TOKEN_VALUE_KEYS else v) for k, v in values.items()}
        elif values:
            body["values"] = MASK
    return {**record, "response_body": json.dumps(body, ensure_ascii=False)}


def _as_list(values: Any) -> list[dict[str, Any]]:
    if isinstance(values, list):
        return [v for v in values if isinstance(v, dict)]
    if isinstance(values, dict):
        return [values]
    return []


def _num(value: str) -> Any:
    text = mapping.ident(value)
    return int(text) if text.isdigit() else text


def client_for(rt: Any, *, document_id: int | None = None) -> CooplanClient:
    config = CooplanConfig.from_settings(rt.settings)
    http = rt.provider_http("cooplan", document_id=document_id, extra_secrets=config.secrets)
    return CooplanClient(config, http)
