"""SOAP 1.1 envelopes for billService (reference §2): WS-Security UsernameToken with
PasswordText, body in http://service.sunat.gob.pe with unqualified children; fault parsing for
both shapes (SUNAT `soap-env:Client.NNNN`, OSE `faultstring`=NNNN + `detail/message`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from pasarela.core.xml import parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_NS = "http://service.sunat.gob.pe"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
CONTENT_TYPE = "text/xml; charset=UTF-8"  # the seed: any other content-type gets an HTTP 500


def envelope(
    operation: str, fields: list[tuple[str, str]], username: str, password: str, wrapper: str | None = None
) -> bytes:
    children = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
    if wrapper:
        children = f"<{wrapper}>{children}</{wrapper}>"
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ser="{SERVICE_NS}" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f'<soapenv:Header><wsse:Security soapenv:mustUnderstand="1">'
        f'<wsse:UsernameToken wsu:Id="UsernameToken-1"><wsse:Username>{escape(username)}</wsse:Username>'
        f'<wsse:Password Type="{PASSWORD_TEXT}">{escape(password)}</wsse:Password>'
        f"</wsse:UsernameToken></wsse:Security></soapenv:Header>"
        f"<soapenv:Body><ser:{operation}>{children}</ser:{operation}></soapenv:Body></soapenv:Envelope>"
    ).encode()


@dataclass
class Fault:
    code: int | None  # SUNAT code when the fault carries one
    message: str
    faultcode: str

    @property
    def text(self) -> str:
        return f"{self.code:04d} - {self.message}" if self.code is not None else self.message


class NotSoap(ValueError):
    """The body is not a SOAP envelope (empty 200, HTML 500 page…)."""


def parse_envelope(body: bytes) -> Any:
    """The SOAP Body element."""
    if not body.strip():
        raise NotSoap("respuesta vacía")
    try:
        root = parse_xml(body)
    except ValueError as exc:
        raise NotSoap(f"respuesta no es XML: {exc}") from exc
    found = root.find(f"{{{SOAP_ENV}}}Body")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or found is None:
        raise NotSoap("respuesta sin sobre SOAP")
    return found


_DIGITS = re.compile(r"(\d{1,4})\s*$")


def find_fault(body_el: Any) -> Fault | None:
    fault = body_el.find(f"{{{SOAP_ENV}}}Fault")
    if fault is None:
        return None
    faultcode = (fault.findtext("faultcode") or "").strip()
    faultstring = (fault.findtext("faultstring") or "").strip()
    detail_message = ""
    detail = fault.find("detail")
    if detail is not None:
        for element in detail.iter():
            if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "message" and element.text:
                detail_message = element.text.strip()
                break
    suffix = faultcode.rsplit(".", 1)[-1] if "." in faultcode else ""
    if suffix.isdigit():  # SUNAT shape: soap-env:Client.0111 + message in faultstring
        return Fault(int(suffix), faultstring, faultcode)
    if faultstring.isdigit():  # OSE shape: faultstring = code, text in detail/message
        return Fault(int(faultstring), detail_message or faultstring, faultcode)
    match = _DIGITS.search(faultcode)
    return Fault(
        int(match.group(1)) if match and match.group(1) != faultcode else None,
        detail_message or faultstring or "SOAP Fault sin mensaje",
        faultcode,
    )


def child_text(parent: Any, local: str) -> str:
    for element in parent.iter():
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == local:
            return (element.text or "").strip()
    return ""
