"""MYSuite's SOAP ``RequestTransaction`` for the four bulk-download transactions: wire only.

The FIEL (certificate, key, password) travels inside Data1 of REGISTRAR; that Data1, the key and
the password are handed to the audited transport as secrets, so no audit row or error ever holds
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pasarela.core.errors import MaybeSent, NeedsAttention, ProviderRejected, SurelyNotSent
from pasarela.core.transport import READABLE_5XX, ProviderHTTP, classify
from pasarela.core.xml import UnsafeXML, parse_xml
from pasarela.providers.mx.mysuite import soap
from pasarela.providers.mx.mysuite import transactions as tx

HttpFactory = Callable[[list[str]], ProviderHTTP]


@dataclass(repr=False)
class Fiel:
    cer: bytes
    key: bytes
    password: str

    def __repr__(self) -> str:
        return "Fiel(<cer>, <key>, <password>)"

    def secrets(self) -> list[str]:
        return [self.password, soap.b64(self.key)]

    @classmethod
    def from_files(cls, cer: Path, key: Path, password: str) -> Fiel:
        return cls(cer.read_bytes(), key.read_bytes(), password)


@dataclass
class Registration:
    request_id: str
    servicio: str
    tipo: str
    tax_id: str
    fecha_inicial: str
    fecha_final: str
    code: str
    message: str

    @property
    def accepted(self) -> bool:
        return self.code == tx.SAT_ACCEPTED


@dataclass
class RequestStatus:
    request_id: str
    estado: str
    codigo: str
    numero_cfdis: int
    message: str
    packages: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class RequestPage:
    page: int
    page_size: int
    total_lines: int
    total_pages: int
    lines: list[dict[str, Any]]


class MySuiteClient:
    def __init__(
        self, url: str, *, requestor: str, user: str, username: str, rfc: str, fiel: Fiel | None, http: HttpFactory
    ):
        self.url = url
        self.requestor, self.user, self.username, self.rfc = requestor, user, username, rfc
        self.fiel = fiel
        self.http = http

    # ---- the four transactions ------------------------------------------------------------------

    def register(
        self, servicio: str, tipo: str, tax_id: str, fecha_inicial: str, fecha_final: str
    ) -> list[Registration]:
        """REGISTRAR_SOLICITUD_DM_SAT: one result per SAT request created (AMBOS multiplies them)."""
        if self.fiel is None:
            raise NeedsAttention("falta la FIEL (certificado, llave y contraseña) en [mx.mysuite]")
        params = {
            "FielCer": soap.b64(self.fiel.cer),
            "FielKey": soap.b64(self.fiel.key),
            "FielPass": self.fiel.password,
            "Servicio": servicio,
            "FechaInicial": fecha_inicial,
            "FechaFinal": fecha_final,
            "TipoSolicitud": tipo,
            "TipoTaxID": tax_id,
        }
        data1 = soap.b64(soap.dictionary(tx.REGISTER_DICTIONARY, params))
        answer = self._call(tx.TX_REGISTER, data1, idempotent=False, secrets=[data1, *self.fiel.secrets()])
        root = self._xml(answer.data1)
        return [
            Registration(
                request_id=e.get("Id", ""),
                servicio=e.get("Servicio", ""),
                tipo=e.get("TipoSolicitud", ""),
                tax_id=e.get("TipoTaxID", ""),
                fecha_inicial=e.get("FechaInicial", ""),
                fecha_final=e.get("FechaFinal", ""),
                code=e.get("CodEstatus", ""),
                message=e.get("Mensaje", ""),
            )
            for e in root
            if e.tag == "Solicitud"
        ]

    def get_request(self, request_id: str) -> RequestStatus:
        data1 = soap.b64(soap.dictionary(tx.REGISTER_DICTIONARY, {tx.GET_KEY_ID: request_id}))
        root = self._xml(self._call(tx.TX_GET, data1).data1)
        packages = [p.get("Id", "") for p in root.iter("Paquete")]
        return RequestStatus(
            request_id=root.get("Id", request_id),
            estado=root.get("EstadoSolicitud", ""),
            codigo=root.get("CodigoEstadoSolicitud", ""),
            numero_cfdis=int(root.get("NumeroCFDIs") or 0),
            message=root.get("Mensaje", ""),
            packages=packages,
            fields=dict(root.attrib),
        )

    def get_link(self, request_id: str, package_id: str) -> str:
        entries = {tx.GET_KEY_ID: request_id, tx.LINK_KEY_PACKAGE: package_id}
        data1 = soap.b64(soap.dictionary(tx.REGISTER_DICTIONARY, entries))
        root = self._xml(self._call(tx.TX_LINK, data1).data1)
        url = root.get("Url", "")
        if not url:
            raise ProviderRejected(f"MYSuite no devolvió liga de descarga para el paquete {package_id}")
        return url

    def list_requests(
        self,
        *,
        page: int = 1,
        page_size: int = 50,
        order: str = tx.LIST_DEFAULT_ORDER,
        filters: list[tuple[str, str, str, str]] | None = None,
        oper: str = "BOTH",
    ) -> RequestPage:
        pars = {
            "Page": str(page),
            "PageSize": str(page_size),
            "ResponseFormat": "JSON",
            "Oper": oper,
            "Order": order,
            "Filters": soap.b64(soap.filters_xml(filters or [])),
        }
        data1 = soap.b64(soap.dictionary(tx.LIST_DICTIONARY, pars))
        answer = self._call(tx.TX_LIST, data1)
        try:
            body = json.loads(answer.data1.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MaybeSent(f"MYSuite: lista de solicitudes ilegible ({exc})") from exc
        return RequestPage(
            int(body.get("Page", page)),
            int(body.get("PageSize", page_size)),
            int(body.get("TotalLines", 0)),
            int(body.get("TotalPages", 0)),
            list(body.get("Lines", [])),
        )

    # ---- package download -----------------------------------------------------------------------

    def download(self, url: str, target: Path, on_progress: Callable[[int], None] | None = None) -> tuple[int, str]:
        """Stream a package to ``target`` (temp file, fsync, rename): all or nothing on disk."""
        return self.http([]).download("descargar_paquete", url, target, on_progress=on_progress)

    # ---- transport ------------------------------------------------------------------------------

    def _call(
        self, transaction: str, data1: str, *, idempotent: bool = True, secrets: list[str] | None = None
    ) -> soap.TransactionResponse:
        envelope = soap.request_envelope(
            {
                "Requestor": self.requestor,
                "Transaction": transaction,
                "Country": tx.COUNTRY,
                "Entity": self.rfc,
                "User": self.user,
                "UserName": self.username,
                "Data1": data1,
            }
        )
        http = self.http(secrets or [])
        # A read that may have arrived is simply asked again (idempotent); a registration is not.
        response = http.request(
            transaction,
            "POST",
            self.url,
            content=envelope,
            answers=READABLE_5XX,
            idempotent=idempotent,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": tx.SOAP_ACTION},
        )
        try:
            answer = soap.read_response(response.content)
        except (UnsafeXML, ValueError) as exc:
            message = f"MYSuite: respuesta ilegible (HTTP {response.status_code}): {exc}"
            raise (
                classify(response, "MYSuite", idempotent=idempotent)
                or (SurelyNotSent(message) if idempotent else MaybeSent(message))
            ) from exc
        if not answer.result:
            self._raise_for(answer, transaction)
        return answer

    @staticmethod
    def _raise_for(answer: soap.TransactionResponse, transaction: str) -> None:
        message = f"MYSuite {transaction}: {answer.code} {answer.description}".strip()
        if answer.hint:
            message += f" ({answer.hint})"
        if answer.code in ("300", "302", "303", "304", "305", "FIEL", "AUTH"):
            raise NeedsAttention(message, provider_code=answer.code)
        raise ProviderRejected(message, provider_code=answer.code)

    @staticmethod
    def _xml(data: bytes) -> Any:
        try:
            return parse_xml(data)
        except UnsafeXML as exc:
            raise SurelyNotSent(f"MYSuite: datos de respuesta ilegibles ({exc})") from exc
