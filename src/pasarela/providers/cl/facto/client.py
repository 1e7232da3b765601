"""Facto's SOAP API (`emitirDocumento`, rpc/encoded, namespace urn:server) over HTTP Basic.

Wire protocol only: build the envelope, send it, read `resultado`, `encabezado.folio` and `enlaces`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from lxml import etree

from pasarela.core.errors import MaybeSent, NeedsAttention, SurelyNotSent
from pasarela.core.transport import ProviderHTTP
from pasarela.core.xml import UnsafeXML, parse_xml
from pasarela.providers.cl.facto.mapping import FactoDocument

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
URN = "urn:server"
# [U] The WSDL text was not seen; public clients send this SOAPAction (reference/chile.md §2.1).
SOAP_ACTION = "https://conexion.facto.cl/documento.php/emitirDocumento"
LINK_NAMES = ("dte_xml", "dte_pdf", "dte_pdfcedible", "dte_pdf_cedible", "dte_timbre")


@dataclass
class FactoResult:
    status: int
    message: str = ""
    folio: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    totals: dict[str, str] = field(default_factory=dict)

    def to_details(self) -> dict[str, Any]:
        return {
            "facto_status": self.status,
            "facto_message": self.message,
            "folio": self.folio,
            "enlaces": self.links,
            "totales": self.totals,
        }


def build_envelope(doc: FactoDocument) -> bytes:
    nsmap = {"soapenv": SOAP_ENV, "urn": URN, "xsi": XSI, "xsd": XSD}
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{URN}}}emitirDocumento")
    call.set(f"{{{SOAP_ENV}}}encodingStyle", SOAP_ENC)
    documento = _typed(call, "documento", "urn:emitir_dte")
    if doc.opciones:
        _struct(documento, "opciones", "urn:opciones", doc.opciones)
    _struct(documento, "encabezado", "urn:encabezado", doc.encabezado)
    detalles = _typed(documento, "detalles", "urn:detalles")
    for line in doc.detalles:
        _struct(detalles, "detalle", "urn:detalle", line)
    if doc.referencias:
        referencias = _typed(documento, "referencias", "urn:referencias")
        for ref in doc.referencias:
            _struct(referencias, "referencia", "urn:referencia", ref)
    if doc.descuentos:
        globales = _typed(documento, "descuentorecargoglobales", "urn:descuentorecargoglobales")
        for item in doc.descuentos:
            _struct(globales, "descuentorecargoglobal", "urn:descuentorecargoglobal", item)
    _struct(documento, "totales", "urn:totales", doc.totales)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _typed(parent: Any, name: str, xsi_type: str) -> Any:
    element = etree.SubElement(parent, name)
    element.set(f"{{{XSI}}}type", xsi_type)
    return element


def _struct(parent: Any, name: str, xsi_type: str, values: dict[str, Any]) -> None:
    element = _typed(parent, name, xsi_type)
    for key, value in values.items():
        if value is None or value == "":
            continue
        child = etree.SubElement(element, key)
        child.set(f"{{{XSI}}}type", "xsd:string")
        child.text = str(value)  # lxml escapes & < > for us


def parse_response(content: bytes) -> FactoResult:
    """Read `emitirDocumentoResponse/return`. Raises MaybeSent when the answer cannot be understood."""
    try:
        root = parse_xml(content)
    except UnsafeXML as exc:
        raise MaybeSent(f"Facto respondió algo que no es SOAP válido: {exc}") from exc
    fault = _find(root, "Fault")
    if fault is not None:
        text = _text(fault, "faultstring") or "SOAP Fault"
        raise MaybeSent(f"Facto respondió SOAP Fault: {text}")
    resultado = _find(root, "resultado")
    if resultado is None:
        raise MaybeSent("respuesta de Facto sin <resultado>")
    status_text = _text(resultado, "status")
    try:
        status = int(status_text)
    except ValueError as exc:
        raise MaybeSent(f"status de Facto ilegible: {status_text!r}") from exc
    encabezado = _find(root, "encabezado")
    enlaces = _find(root, "enlaces")
    totales = _find(root, "totales")
    links = {}
    if enlaces is not None:
        for child in enlaces:
            name = etree.QName(child).localname
            if name in LINK_NAMES and (child.text or "").strip():
                links["dte_pdfcedible" if name == "dte_pdf_cedible" else name] = child.text.strip()
    return FactoResult(
        status=status,
        message=_text(resultado, "mensaje_error"),
        folio=(_text(encabezado, "folio") or None) if encabezado is not None else None,
        links=links,
        totals={etree.QName(c).localname: (c.text or "") for c in totales} if totales is not None else {},
    )


def _find(root: Any, local: str) -> Any:
    found = root.xpath(f"//*[local-name()='{local}']")
    return found[0] if found else None


def _text(element: Any, local: str) -> str:
    found = element.xpath(f"./*[local-name()='{local}']")
    return (found[0].text or "").strip() if found else ""


class FactoClient:
    def __init__(self, http: ProviderHTTP, url: str, user: str, password: str):
        self.http = http
        self.url = url
        self.auth = httpx.BasicAuth(user, password)

    def emitir_documento(self, doc: FactoDocument) -> FactoResult:
        response = self.http.request(
            "emitirDocumento",
            "POST",
            self.url,
            content=build_envelope(doc),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
            auth=self.auth,
        )
        if response.status_code in (401, 403):
            raise NeedsAttention(
                f"Facto rechazó las credenciales (HTTP {response.status_code}): revisa el usuario "
                "'RUT/login' y la llave API de la tienda"
            )
        if response.status_code >= 400:
            raise NeedsAttention(f"Facto respondió HTTP {response.status_code}: {response.text[:200]}")
        return parse_response(response.content)

    def download(self, url: str) -> bytes:
        response = self.http.request("descarga", "GET", url)
        if response.status_code != 200:
            raise SurelyNotSent(f"descarga {url} respondió HTTP {response.status_code}")
        return response.content
