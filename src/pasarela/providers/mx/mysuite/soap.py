"""The RequestTransaction call and the Dictionary/Filters payloads, both directions. The SOAP envelope
itself is built and read by `pasarela.core.soap`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pasarela.core import soap
from pasarela.core.xml import parse_xml
from pasarela.providers.mx.mysuite.transactions import WS_NS


def dictionary(name: str, entries: dict[str, str]) -> bytes:
    root = etree.Element("Dictionary", name=name)
    for key, value in entries.items():
        etree.SubElement(root, "Entry", k=key, v=value)
    return etree.tostring(root, encoding="utf-8")


def read_dictionary(data: bytes) -> dict[str, str]:
    root = parse_xml(data)
    return {e.get("k", ""): e.get("v", "") for e in root if e.tag == "Entry"}


def filters_xml(filters: list[tuple[str, str, str, str]]) -> bytes:
    root = etree.Element("Filters")
    for name, oper, value1, value2 in filters:
        etree.SubElement(root, "Filter", Name=name, Oper=oper, Value1=value1, Value2=value2)
    return etree.tostring(root, encoding="utf-8")


def read_filters(data: bytes) -> list[tuple[str, str, str, str]]:
    root = parse_xml(data)
    return [(f.get("Name", ""), f.get("Oper", "="), f.get("Value1", ""), f.get("Value2", ""))
            for f in root if f.tag == "Filter"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=False) if text else b""


def request_envelope(fields: dict[str, str]) -> bytes:
    """fields in the documented order: Requestor, Transaction, Country, Entity, User, UserName, Data1-3."""
    names = ("Requestor", "Transaction", "Country", "Entity", "User", "UserName", "Data1", "Data2", "Data3")
    call = soap.call(WS_NS, "RequestTransaction", [(n, fields.get(n, "")) for n in names], qualified=True, prefix="ws")
    return soap.envelope(call, prefix="soap")


def read_request(data: bytes) -> dict[str, str]:
    call = soap.body_of(data).find(f"{{{WS_NS}}}RequestTransaction")
    if call is None:
        raise ValueError("falta RequestTransaction en el cuerpo SOAP")
    return {etree.QName(child).localname: (child.text or "") for child in call}


@dataclass
class TransactionResponse:
    result: bool
    code: str
    description: str
    hint: str
    data1: bytes
    data2: bytes
    data3: bytes


def response_envelope(result: bool, code: str, description: str, hint: str = "",
                      data1: bytes = b"", data2: bytes = b"", data3: bytes = b"") -> bytes:
    answer = etree.Element(f"{{{WS_NS}}}RequestTransactionResponse", nsmap={None: WS_NS})
    result_el = etree.SubElement(answer, f"{{{WS_NS}}}RequestTransactionResult")
    response = etree.SubElement(result_el, f"{{{WS_NS}}}Response")
    for name, value in (("Result", "true" if result else "false"), ("Code", code),
                        ("Description", description), ("Hint", hint)):
        etree.SubElement(response, f"{{{WS_NS}}}{name}").text = value
    etree.SubElement(response, f"{{{WS_NS}}}Identifier", Batch="", Serial="", DocumentGUID="")
    data = etree.SubElement(result_el, f"{{{WS_NS}}}ResponseData")
    for index, payload in enumerate((data1, data2, data3), start=1):
        etree.SubElement(data, f"{{{WS_NS}}}ResponseData{index}").text = b64(payload) if payload else ""
    return soap.envelope(answer, prefix="soap")


def read_response(data: bytes) -> TransactionResponse:
    found: dict[str, Any] = {}
    for element in soap.body_of(data).iter():
        if isinstance(element.tag, str):
            found.setdefault(etree.QName(element).localname, element.text or "")
    if "Result" not in found:
        raise ValueError("respuesta sin RequestTransactionResult/Response/Result")
    return TransactionResponse(
        result=found["Result"].strip().lower() == "true",
        code=found.get("Code", "").strip(),
        description=found.get("Description", "").strip(),
        hint=found.get("Hint", "").strip(),
        data1=unb64(found.get("ResponseData1", "").strip()),
        data2=unb64(found.get("ResponseData2", "").strip()),
        data3=unb64(found.get("ResponseData3", "").strip()),
    )
