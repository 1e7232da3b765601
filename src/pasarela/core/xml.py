"""The one way we parse XML from outside: no entities resolved, no DTD loaded, no network.

Every XML entry point (CFDI, UBL, CDR, DTE, SOAP bodies) goes through ``parse_xml``; the files in
shared/vectors/xml-attacks are refused with ``UnsafeXML``.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

MAX_XML_BYTES = 50 * 1024 * 1024


class UnsafeXML(ValueError):
    """The document declares a DTD or entities, or is not well-formed XML."""


_local = threading.local()


def _parser(recover: bool = False) -> etree.XMLParser:
    """One parser per thread and mode: building an XMLParser costs more than parsing a small CFDI."""
    key = "recover" if recover else "strict"
    parser = getattr(_local, key, None)
    if parser is None:
        parser = _new_parser(recover)
        setattr(_local, key, parser)
    return parser


def _new_parser(recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        recover=recover,
    )


def parse_xml(data: bytes | str, *, recover: bool = False) -> Any:
    """Parse bytes into an element tree root, refusing DTDs (billion laughs, XXE) outright."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXML(f"XML de {len(data)} bytes excede el máximo de {MAX_XML_BYTES}")
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in data.upper():
        raise UnsafeXML("XML con DTD o entidades declaradas: rechazado por seguridad")
    try:
        root = etree.fromstring(data, parser=_parser(recover))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXML(f"XML mal formado: {exc}") from exc
    if root is None:
        raise UnsafeXML("XML vacío")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or (docinfo.internalDTD is not None):
        raise UnsafeXML("XML con DTD: rechazado por seguridad")
    return root


def text_of(element: Any, path: str, namespaces: dict[str, str] | None = None, default: str = "") -> str:
    found = element.find(path, namespaces=namespaces)
    if found is None or found.text is None:
        return default
    return str(found.text).strip()
