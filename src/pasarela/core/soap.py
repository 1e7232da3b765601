"""SOAP 1.1, built and read in one place (Facto, Bizlinks/SUNAT, MYSuite, and their simulators), with lxml.

- `envelope(body, header=…)` wraps a body element; `call(namespace, operation, fields)` builds the usual
  "operation element with one child per field"; `username_token(user, password)` the WS-Security header
  (UsernameToken, PasswordText) that SUNAT's billService and OSEs require.
- `body_of(bytes)` parses an answer safely (no DTD, no entities: `core.xml.parse_xml`) and returns its Body,
  or raises `NotSoap` (an empty 200, an HTML error page…).
- `fault_of(body)` reads a Fault in both shapes billService uses — SUNAT: ``faultcode`` =
  ``soap-env:Client.NNNN`` and the message in ``faultstring``; OSE: ``faultstring`` = ``NNNN`` and the text
  in ``detail/message`` — and the plain one (no code).
- `fault_response(...)` writes a Fault, for simulators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pasarela.core.errors import UnreadableData
from pasarela.core.xml import parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"


class NotSoap(UnreadableData):
    """The bytes are not a SOAP envelope (empty 200, HTML 500 page, cut answer…)."""


def envelope(
    body: Any | Iterable[Any] | None,
    *,
    header: Any | None = None,
    nsmap: dict[str | None, str] | None = None,
    prefix: str = "soapenv",
    declaration: bool = True,
) -> bytes:
    """``<Envelope><Header/>?<Body>…</Body></Envelope>`` around one or several body elements."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={prefix: SOAP_ENV, **(nsmap or {})})
    if header is not None:
        etree.SubElement(root, f"{{{SOAP_ENV}}}Header").append(header)
    body_el = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    for child in [] if body is None else [body] if etree.iselement(body) else body:
        body_el.append(child)
    return bytes(etree.tostring(root, xml_declaration=declaration, encoding="UTF-8"))


def call(
    namespace: str, operation: str, fields: Iterable[tuple[str, str]], *, qualified: bool = False,
    wrapper: str | None = None, prefix: str | None = None,
) -> Any:
    """``<ns:operation><field>value</field>…</ns:operation>``; children unqualified unless ``qualified``."""
    element = etree.Element(f"{{{namespace}}}{operation}", nsmap={prefix: namespace} if prefix else None)
    parent = etree.SubElement(element, wrapper) if wrapper else element
    for name, value in fields:
        child = etree.SubElement(parent, f"{{{namespace}}}{name}" if qualified else name)
        child.text = value
    return element


def username_token(username: str, password: str) -> Any:
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(f"{{{SOAP_ENV}}}mustUnderstand", "1")
    token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
    token.set(f"{{{WSU}}}Id", "UsernameToken-1")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = username
    secret = etree.SubElement(token, f"{{{WSSE}}}Password", Type=PASSWORD_TEXT)
    secret.text = password
    return security


def body_of(data: bytes) -> Any:
    """The SOAP Body element of an answer; NotSoap when there is none."""
    if not data.strip():
        raise NotSoap("respuesta vacía")
    try:
        root = parse_xml(data)
    except ValueError as exc:
        raise NotSoap(f"respuesta no es XML: {exc}") from exc
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or body is None:
        raise NotSoap("respuesta sin sobre SOAP")
    return body


@dataclass
class Fault:
    code: int | None  # the SUNAT/OSE code when the fault carries one
    message: str
    faultcode: str

    @property
    def text(self) -> str:
        return f"{self.code:04d} - {self.message}" if self.code is not None else self.message


_TRAILING_DIGITS = re.compile(r"(\d{1,4})\s*$")


def fault_of(body: Any) -> Fault | None:
    fault = body.find(f"{{{SOAP_ENV}}}Fault")
    if fault is None:
        return None
    faultcode = (fault.findtext("faultcode") or "").strip()
    faultstring = (fault.findtext("faultstring") or "").strip()
    detail = next((e.text.strip() for e in fault.iter("{*}message") if e.text), "")
    suffix = faultcode.rsplit(".", 1)[-1] if "." in faultcode else ""
    if suffix.isdigit():  # SUNAT: soap-env:Client.0111 + message in faultstring
        return Fault(int(suffix), faultstring, faultcode)
    if faultstring.isdigit():  # OSE: faultstring = code, text in detail/message
        return Fault(int(faultstring), detail or faultstring, faultcode)
    match = _TRAILING_DIGITS.search(faultcode)
    code = int(match.group(1)) if match and match.group(1) != faultcode else None
    return Fault(code, detail or faultstring or "SOAP Fault sin mensaje", faultcode)


def descendant(parent: Any, local: str) -> Any | None:
    """The first descendant named ``local`` in any namespace (rpc/encoded answers qualify nothing)."""
    for element in parent.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname == local:
            return element
    return None


def child_text(parent: Any, local: str) -> str:
    """The text of the first descendant named ``local`` in any namespace ('' when absent)."""
    found = descendant(parent, local)
    return (found.text or "").strip() if found is not None else ""


def fault_response(
    faultcode: str, faultstring: str, *, detail_message: str | None = None, detail_ns: str | None = None,
    prefix: str = "soap-env",
) -> bytes:
    """A Fault envelope (for simulators): OSE shape when ``detail_message`` is given."""
    fault = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = faultcode
    etree.SubElement(fault, "faultstring").text = faultstring
    if detail_message is not None:
        detail = etree.SubElement(fault, "detail")
        etree.SubElement(detail, f"{{{detail_ns}}}message" if detail_ns else "message").text = detail_message
    return envelope(fault, prefix=prefix, declaration=False)
