"""Bizlinks OSE billService client: the wire protocol only (reference §2, §11.1)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import httpx

from pasarela.core.errors import MaybeSent
from pasarela.core.transport import READABLE_5XX, ProviderHTTP, classify
from pasarela.providers.pe.bizlinks import soap
from pasarela.providers.pe.bizlinks.errors import BizlinksFault
from pasarela.providers.pe.ubl.cdr import Cdr, CdrError, read_cdr


@dataclass
class TicketStatus:
    code: str  # "0" done, "98" in process, "99" done with errors
    cdr: Cdr | None


@dataclass
class StatusCdr:
    code: str
    message: str
    cdr: Cdr | None


class BizlinksClient:
    def __init__(self, http: ProviderHTTP, url: str, username: str, password: str):
        self.http = http
        self.url = url
        self.username = username
        self.password = password

    def _call(self, operation: str, fields: list[tuple[str, str]], wrapper: str | None = None) -> object:
        body = soap.envelope(operation, fields, self.username, self.password, wrapper)
        response = self.http.request(
            operation,
            "POST",
            self.url,
            content=body,
            headers={"Content-Type": soap.CONTENT_TYPE, "SOAPAction": f'"urn:{operation}"'},
            answers=READABLE_5XX,  # SOAP faults come with a 500
        )
        return self._body(response, operation)

    def _body(self, response: httpx.Response, operation: str) -> object:
        try:
            body_el = soap.parse_envelope(response.content)
        except soap.NotSoap as exc:
            # An empty 200 or an HTML 5xx after sending: the OSE may have registered the document.
            raise classify(response, f"bizlinks {operation}") or MaybeSent(
                f"bizlinks {operation}: HTTP {response.status_code}, {exc}"
            ) from None
        fault = soap.find_fault(body_el)
        if fault is not None:
            raise BizlinksFault(fault.code, fault.message)
        if response.status_code >= 400:
            raise MaybeSent(f"bizlinks {operation}: HTTP {response.status_code} sin SOAP Fault")
        return body_el

    def _decode_cdr(self, text: str, operation: str) -> Cdr:
        try:
            return read_cdr(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, CdrError) as exc:
            raise MaybeSent(f"bizlinks {operation}: CDR ilegible ({exc})") from None

    def send_bill(self, zip_name: str, content: bytes) -> Cdr:
        body = self._call("sendBill", [("fileName", zip_name), ("contentFile", base64.b64encode(content).decode())])
        text = soap.child_text(body, "applicationResponse")
        if not text:
            raise MaybeSent("bizlinks sendBill: respuesta sin applicationResponse")
        return self._decode_cdr(text, "sendBill")

    def send_summary(self, zip_name: str, content: bytes) -> str:
        body = self._call("sendSummary", [("fileName", zip_name), ("contentFile", base64.b64encode(content).decode())])
        ticket = soap.child_text(body, "ticket")
        if not ticket:
            raise MaybeSent("bizlinks sendSummary: respuesta sin ticket")
        return ticket

    def get_status(self, ticket: str) -> TicketStatus:
        body = self._call("getStatus", [("ticket", ticket)])
        code = soap.child_text(body, "statusCode")
        if not code:
            raise MaybeSent("bizlinks getStatus: respuesta sin statusCode")
        content = soap.child_text(body, "content")
        return TicketStatus(code, self._decode_cdr(content, "getStatus") if content else None)

    def get_status_cdr(self, ruc: str, doc_type: str, series: str, number: int, *, wrapped: bool = False) -> StatusCdr:
        """SUNAT expects the 4 fields flat; one Bizlinks client wraps them in <statusCdr> [U]."""
        fields = [
            ("rucComprobante", ruc),
            ("tipoComprobante", doc_type),
            ("serieComprobante", series),
            ("numeroComprobante", str(number)),
        ]
        body = self._call("getStatusCdr", fields, wrapper="statusCdr" if wrapped else None)
        content = soap.child_text(body, "content") or soap.child_text(body, "document")
        return StatusCdr(
            soap.child_text(body, "statusCode"),
            soap.child_text(body, "statusMessage"),
            self._decode_cdr(content, "getStatusCdr") if content else None,
        )
