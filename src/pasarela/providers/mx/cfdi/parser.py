"""CFDI 3.2 / 3.3 / 4.0 and Retenciones 1.0 / 2.0 (with Pagos 1.0 / 2.0) → one flat index record.

Built for ingest speed: one ``parse_xml`` (DTDs and entities refused) and a walk over direct
children by local name, no XPath. Lenient where the SAT's own files are sloppy (mexico.md §4): a
UTF-8 BOM, whitespace before the XML declaration, leading spaces in RFCs, ``&``/``Ñ`` in RFCs,
foreign-namespace addenda; a file that is not well-formed is re-read with lxml's ``recover``.

Three readers, fastest first, each giving the same record where it answers:
1. ``_cfdiscan`` (C, built with the package when a compiler is at hand): a strict, validating reader
   of a narrow subset of XML that declines anything outside it (see its source);
2. the skim: the index never reads the Conceptos (the stored XML keeps them), so where provably
   harmless (``_skim``) they are cut out of the bytes, and the root's Certificado value emptied,
   before lxml parses;
3. lxml on the whole file.
"""

from __future__ import annotations

import json
import os
import re
import threading
from codecs import BOM_UTF8
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from pasarela.core.xml import MAX_XML_BYTES, UnsafeXML, parse_xml

try:
    from pasarela.providers.mx.cfdi import _cfdiscan
except ImportError:  # installed without a C compiler: lxml reads every file (slower, same records)
    _cfdiscan = None  # type: ignore[assignment]

NS_CFDI = {"http://www.sat.gob.mx/cfd/3", "http://www.sat.gob.mx/cfd/4"}
NS_RETENCIONES = {
    "http://www.sat.gob.mx/esquemas/retencionpago/1",
    "http://www.sat.gob.mx/esquemas/retencionpago/2",
}
TIPO_32 = {"ingreso": "I", "egreso": "E", "traslado": "T"}
# Our own marker for Retenciones e Información de Pagos in the `tipo` column (the SAT's
# TipoDeComprobante only covers I/E/T/N/P).
TIPO_RETENCIONES = "R"

# Index columns filled from the XML, in storage order.
XML_FIELDS = (
    "uuid", "kind", "version", "tipo", "serie", "folio",
    "emisor_rfc", "emisor_nombre", "receptor_rfc", "receptor_nombre",
    "fecha_emision", "fecha_certificacion", "pac_rfc",
    "subtotal", "descuento", "total", "moneda", "tipo_cambio",
    "total_retenido", "total_trasladado", "monto_pagado", "detalle",
)


class CfdiError(ValueError):
    """The file is not a CFDI we can index; ``reason`` says why (Spanish, shown to users)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""  # comments, processing instructions
    return tag[tag.rfind("}") + 1:]


def _ns(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _children(element: Any) -> dict[str, Any]:
    """First child per local name (repeatable nodes are walked where they matter)."""
    found: dict[str, Any] = {}
    for child in element:
        name = _local(child.tag)
        if name and name not in found:
            found[name] = child
    return found


def _attrs(element: Any, legacy: bool = False) -> dict[str, str]:
    """An element's attributes as a plain dict (one call into lxml instead of one per name).
    ``legacy`` (CFDI 3.2) capitalises the first letter, so 3.2's ``total`` reads as ``Total``."""
    if element is None:
        return {}
    if legacy:
        return {k[:1].upper() + k[1:]: v for k, v in element.items()}
    return dict(element.items())


Getter = Callable[[str], "str | None"]
_EMPTY_ATTRIBUTES: dict[str, str] = {}
_NO_ATTRIBUTES: Getter = _EMPTY_ATTRIBUTES.get


def _getter(element: Any, legacy: bool = False) -> Getter:
    """Attribute lookup by name for one element, no dict built: the element's own ``get`` (which,
    unlike ``items()``, never decodes the long values nobody reads: Certificado ≈ 1.7 kB, Sello,
    SelloCFD, SelloSAT). ``legacy`` (CFDI 3.2): every attribute first-letter-capitalised, as ``_attrs``."""
    if element is None:
        return _NO_ATTRIBUTES
    if legacy:
        return _attrs(element, True).get
    return element.get


def _attr(element: Any, *names: str) -> str:
    if element is None:
        return ""
    get = element.get  # direct lookup: ``.attrib`` builds a proxy object on every access
    for name in names:
        value = get(name)
        if value is not None:
            return value.strip()
    return ""


def _rfc(value: str | None) -> str:
    return value.strip().upper() if value else ""


def _text(value: str | None) -> str:
    return value.strip() if value else ""


def _date(value: str | None) -> str:
    """SAT dates as 'YYYY-MM-DD HH:MM:SS' (the metadata format), zone suffix dropped."""
    value = value.strip() if value else ""
    return value[:19].replace("T", " ") if value else ""


def _amount(value: str | None) -> str:
    """The amount as written when ``Decimal`` accepts it, else "". Plain ASCII ``123.45`` (nearly
    every value) is accepted without building the Decimal."""
    value = value.strip() if value else ""
    if not value or (value.isascii() and value.replace(".", "", 1).isdigit()):
        return value
    try:
        Decimal(value)
    except InvalidOperation:
        return ""
    return value


def normalize_uuid(value: str) -> str:
    return value.strip().upper()


_PARSERS = threading.local()


def _safe_parser() -> Any:
    """One parser per thread, reused: building an ``XMLParser`` costs as much as a small parse.
    Same safety settings as ``pasarela.core.xml.parse_xml``."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False)
    return parser


def _fast_root(data: bytes) -> Any:
    """The common case, fast: a well-formed file without a DOCTYPE. Anything else returns None and
    goes through ``core.xml.parse_xml`` (its refusals and error messages).

    Entity declarations can only live in a DOCTYPE's internal subset, so "no DOCTYPE" is the whole
    check: a cheap look at the prolog before parsing, and the parsed tree's own DOCTYPE record after
    (a DOCTYPE pushed past 4 KiB by comments is parsed by this parser, which never expands entities
    or loads anything, and then refused). The look for ``!`` (a memchr) only spares the slower
    ``<!DOCTYPE`` search when it cannot match: same answer."""
    if len(data) > MAX_XML_BYTES or (data.find(b"!", 0, 4096) >= 0 and data.find(b"<!DOCTYPE", 0, 4096) >= 0):
        return None
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        return None
    return root


def _normalized(data: bytes) -> bytes:
    """Without a UTF-8 BOM and leading whitespace (some SAT files have both)."""
    return data.removeprefix(BOM_UTF8).lstrip()


def load_root(data: bytes) -> Any:
    """Safe parse with a lenient second chance; hostile XML (DTD/entities) is never recovered."""
    data = _normalized(data)
    if not data:
        raise CfdiError("archivo vacío")
    root = _fast_root(data)
    if root is not None:
        return root
    try:
        return parse_xml(data)
    except UnsafeXML as exc:
        if "DTD" in str(exc) or "entidades" in str(exc) or "excede" in str(exc):
            raise CfdiError(str(exc)) from exc
        try:
            return parse_xml(data, recover=True)
        except UnsafeXML:
            raise CfdiError(str(exc)) from exc


# ---- skimming: what lxml need not parse ----------------------------------------------------------

CONCEPTOS_OPEN = b"<cfdi:Conceptos>"
CONCEPTOS_CLOSE = b"</cfdi:Conceptos>"
CERTIFICADO = b' Certificado="'
# Declared encodings in which these ASCII byte patterns can only be the characters they look like.
ASCII_ENCODINGS = {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin1", b"windows-1252"}
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)""")


def _prolog_end(data: bytes) -> int:
    """Where the XML declaration ends (0 without one); -1 if its encoding is not ASCII-based."""
    if not data.startswith(b"<?"):
        return 0
    end = data.find(b"?>", 2, 200)
    if end < 0:
        return -1
    if data.find(b'encoding="UTF-8"', 2, end) < 0:  # else the usual declaration, no regex needed
        encoding = _ENCODING.search(data, 2, end)
        if encoding is not None and encoding[1].lower() not in ASCII_ENCODINGS:
            return -1
    return end + 2


def _certificado_span(data: bytes, prolog: int) -> tuple[int, int]:
    """Start and end of the root's Certificado value, or (-1, -1) when it cannot be proved to be
    an attribute value: no ``'`` before it (so every value there is double-quoted and cannot hold
    the ``"`` of the pattern) and no ``<`` inside it (so it cannot swallow markup)."""
    root_tag_end = data.find(b">", prolog)  # or a ">" inside one of its values: then not found
    found = data.find(CERTIFICADO, prolog, root_tag_end) if root_tag_end > 0 else -1
    if found < 0 or data.find(b"'", prolog, found) >= 0:
        return -1, -1
    start = found + len(CERTIFICADO)
    end = data.find(b'"', start)
    if end < 0 or data.find(b"<", start, end) >= 0:
        return -1, -1
    return start, end


def _skim(data: bytes) -> bytes | None:
    """``data`` without its ``<cfdi:Conceptos>`` element and with the root's Certificado value
    emptied, or None when that is not provably harmless (then the whole file is parsed).

    Harmless because: with no ``!`` and no ``?`` before the closing tag, there is no comment,
    CDATA, DOCTYPE or processing instruction there, so every ``<`` is a real tag; the opening tag
    (exactly ``<cfdi:Conceptos>``, so not self-closing) and the first closing tag after it then
    either enclose one whole element, which is removed, or leave tags unbalanced, and lxml refuses
    the skimmed file. An element named Conceptos, under any namespace, is never read by the index.
    Nothing in Retenciones is skimmed: ``_skimmed_root`` keeps only a CFDI root. So every
    well-formed file gets the same record as unskimmed; one whose Conceptos alone are broken (an
    unclosed tag) is indexed from its other elements, where lxml's ``recover`` used to guess."""
    prolog = _prolog_end(data)
    if prolog < 0:
        return None
    cert_start, cert_end = _certificado_span(data, prolog)
    start = data.find(CONCEPTOS_OPEN, max(prolog, cert_end))
    if start < 0:
        return None
    end = data.find(CONCEPTOS_CLOSE, start)
    if end < 0 or data.find(b"!", 0, end) >= 0 or data.find(b"?", prolog, end) >= 0:
        return None
    tail = data[end + len(CONCEPTOS_CLOSE):]
    if cert_start < 0:
        return data[:start] + tail
    return b"".join((data[:cert_start], data[cert_end:start], tail))


def _skimmed_root(data: bytes) -> Any:
    """The root of the skimmed file when it is a CFDI Comprobante; None sends the caller to the
    whole file (``load_root``): not skimmable, not well-formed, a DOCTYPE, or another root."""
    data = _normalized(data)
    if len(data) > MAX_XML_BYTES:
        return None
    skimmed = _skim(data)
    if skimmed is None:
        return None
    root = _fast_root(skimmed)
    if root is None or not _is_comprobante(root.tag):
        return None
    return root


def _is_comprobante(tag: Any) -> bool:
    return isinstance(tag, str) and _local(tag) == "Comprobante" and _ns(tag) in NS_CFDI


def parse_cfdi(data: bytes, *, fast: bool = True) -> dict[str, Any]:
    """Bytes of one CFDI or Retenciones file → the index record (``XML_FIELDS``). ``fast=False``
    parses the whole file with lxml (same record; the tests compare them)."""
    if fast:
        scanned = _scanned_record(data)
        if scanned is not None:
            return scanned
        skimmed = _skimmed_root(data)
        if skimmed is not None:
            return _comprobante(skimmed)
    root = load_root(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    local, ns = _local(tag), _ns(tag)
    if local == "Comprobante" and ns in NS_CFDI:
        return _comprobante(root)
    if local == "Retenciones" and ns in NS_RETENCIONES:
        return _retenciones(root)
    raise CfdiError(f"no es un CFDI ni un comprobante de retenciones (raíz {local or '?'!s})")


# ---- the C reader --------------------------------------------------------------------------------

def _scanned_record(data: bytes) -> dict[str, Any] | None:
    """The record from ``SCANNER`` when it reads the file and the file is a CFDI 3.3 / 4.0
    Comprobante; None sends the caller to lxml. The attribute dicts stand in for lxml's
    ``element.get``: the same unprefixed attributes, the same values."""
    if SCANNER is None or len(data) > MAX_XML_BYTES:
        return None
    found = SCANNER(data)
    if found is None:
        return None
    namespace, local, root, emisor, receptor, impuestos, tfd, pagos = found
    if local != "Comprobante" or namespace not in NS_CFDI:
        return None
    version = root.get("Version")
    version = (version if version is not None else root.get("version") or "").strip()
    if version.startswith("3.2"):
        return None  # CFDI 3.2's lower-case names: ``_comprobante``'s legacy mode
    return _comprobante_record(
        version, root.get, _dict_getter(emisor), _dict_getter(receptor), _dict_getter(impuestos),
        _dict_getter(tfd), None if pagos is None else [(pago.get, [d.get for d in doctos]) for pago, doctos in pagos])


def _dict_getter(attributes: dict[str, str] | None) -> Getter:
    return _NO_ATTRIBUTES if attributes is None else attributes.get


def _names_read() -> list[str]:
    """Every attribute name ``_comprobante_record`` looks up (and ``_scanned_record``'s Version),
    found by running it once with a getter that notes each name asked for: the C reader then
    decodes only those. (A lookup made only for some values would be missed here; the tests that
    compare the C reader with lxml would show it.)"""
    names = {"Version", "version"}

    def note(name: str) -> None:
        names.add(name)

    _comprobante_record("4.0", note, note, note, note, note, [(note, [note])])
    return sorted(names)


# ---- extraction ----------------------------------------------------------------------------------

def _timbre(complemento: Any) -> tuple[Any, dict[str, Any]]:
    """The TimbreFiscalDigital and the other complements by local name."""
    tfd = None
    others: dict[str, Any] = {}
    if complemento is None:
        return None, others
    for child in complemento:
        name = _local(child.tag)
        if name == "TimbreFiscalDigital" and tfd is None:
            tfd = child
        elif name:
            others.setdefault(name, child)
    return tfd, others


def _tfd_fields(tfd: Getter) -> dict[str, str]:
    """The index fields the TimbreFiscalDigital brings (CFDI and Retenciones alike)."""
    return {
        "uuid": normalize_uuid(tfd("UUID") or ""),
        "fecha_certificacion": _date(tfd("FechaTimbrado")),
        "pac_rfc": _rfc(tfd("RfcProvCertif")),
    }


def _comprobante_children(root: Any) -> tuple[Any, Any, Any, Any]:
    """The first Emisor, Receptor, Impuestos and Complemento among the root's children (or None).
    ``_local`` inlined: this loop runs for every file."""
    emisor = receptor = impuestos = complemento = None
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag[tag.rfind("}") + 1:]
        if name == "Emisor" and emisor is None:
            emisor = child
        elif name == "Receptor" and receptor is None:
            receptor = child
        elif name == "Impuestos" and impuestos is None:
            impuestos = child
        elif name == "Complemento" and complemento is None:
            complemento = child
    return emisor, receptor, impuestos, complemento


def _pagos_getters(pagos: Any) -> list[tuple[Getter, list[Getter]]] | None:
    """Each Pago's attributes with its DoctoRelacionado's, in document order (None: no Pagos)."""
    if pagos is None:
        return None
    return [(pago.get, [d.get for d in pago if _local(d.tag) == "DoctoRelacionado"])
            for pago in pagos if _local(pago.tag) == "Pago"]


def _comprobante(root: Any) -> dict[str, Any]:
    """One pass over the root's direct children; only the attributes the index needs are read."""
    version = _attr(root, "Version", "version")
    legacy = version.startswith("3.2")
    emisor, receptor, impuestos, complemento = _comprobante_children(root)
    tfd, complements = _timbre(complemento)
    return _comprobante_record(
        version, _getter(root, legacy), _getter(emisor, legacy), _getter(receptor, legacy),
        _getter(impuestos, legacy), _getter(tfd), _pagos_getters(complements.get("Pagos")))


def _comprobante_record(version: str, top: Getter, emisor: Getter, receptor: Getter, impuestos: Getter,
                        tfd: Getter, pagos: list[tuple[Getter, list[Getter]]] | None) -> dict[str, Any]:
    """The index record from attribute lookups on the few elements it reads."""
    tipo = _text(top("TipoDeComprobante"))
    tipo = TIPO_32.get(tipo.lower(), tipo.upper()) if version.startswith("3.2") or len(tipo) > 1 else tipo.upper()
    record: dict[str, Any] = {
        "kind": "cfdi",
        "version": version,
        "tipo": tipo,
        "serie": _text(top("Serie")),
        "folio": _text(top("Folio")),
        "emisor_rfc": _rfc(emisor("Rfc")),
        "emisor_nombre": _text(emisor("Nombre")),
        "receptor_rfc": _rfc(receptor("Rfc")),
        "receptor_nombre": _text(receptor("Nombre")),
        "fecha_emision": _date(top("Fecha")),
        "subtotal": _amount(top("SubTotal")),
        "descuento": _amount(top("Descuento")),
        "total": _amount(top("Total")),
        "moneda": _text(top("Moneda")),
        "tipo_cambio": _amount(top("TipoCambio")),
        "total_retenido": _amount(impuestos("TotalImpuestosRetenidos")),
        "total_trasladado": _amount(impuestos("TotalImpuestosTrasladados")),
        **_tfd_fields(tfd),
        "monto_pagado": "",
        "detalle": "",
    }
    if pagos is not None:
        paid, detail = _pagos(pagos)
        record["monto_pagado"] = paid
        record["detalle"] = json.dumps({"pagos": detail}, ensure_ascii=False)
    return record


def _pagos(pagos: list[tuple[Getter, list[Getter]]]) -> tuple[str, list[dict[str, Any]]]:
    """Pagos 1.0 / 2.0: the paid amounts live only in the complement (the CFDI says Total=0).
    ``pagos``: each Pago's attribute lookup with its DoctoRelacionado's, in document order."""
    total = Decimal(0)
    detail = []
    for pago, documentos in pagos:
        monto = _amount(pago("Monto"))
        total += Decimal(monto or 0)
        doctos = [
            {
                "id_documento": normalize_uuid(_text(d("IdDocumento"))),
                "serie": _text(d("Serie")),
                "folio": _text(d("Folio")),
                "moneda": _text(d("MonedaDR")),
                "parcialidad": _text(d("NumParcialidad")),
                "saldo_anterior": _amount(d("ImpSaldoAnt")),
                "pagado": _amount(d("ImpPagado")),
                "saldo_insoluto": _amount(d("ImpSaldoInsoluto")),
            }
            for d in documentos
        ]
        detail.append({
            "fecha_pago": _date(pago("FechaPago")),
            "forma_pago": _text(pago("FormaDePagoP")),
            "moneda": _text(pago("MonedaP")),
            "monto": monto,
            "documentos": doctos,
        })
    return (str(total) if detail else ""), detail


def _retenciones(root: Any) -> dict[str, Any]:
    version = _attr(root, "Version", "version")
    nodes = _children(root)
    emisor, receptor, totales = nodes.get("Emisor"), nodes.get("Receptor"), nodes.get("Totales")
    counterpart = _children(receptor) if receptor is not None else {}
    nacional, extranjero = counterpart.get("Nacional"), counterpart.get("Extranjero")
    tfd, _ = _timbre(nodes.get("Complemento"))
    periodo = nodes.get("Periodo")
    receptor_rfc = _rfc(_attr(nacional, "RfcR", "RFCRecep")) if nacional is not None else ""
    receptor_nombre = _attr(nacional if nacional is not None else extranjero, "NomDenRazSocR")
    detail = {
        "clave_retencion": _attr(root, "CveRetenc"),
        "periodo": {k: _attr(periodo, k, k[0].lower() + k[1:]) for k in ("MesIni", "MesFin", "Ejercicio")},
        "monto_gravado": _amount(_attr(totales, "MontoTotGrav", "montoTotGrav")),
        "monto_exento": _amount(_attr(totales, "MontoTotExent", "montoTotExent")),
    }
    if extranjero is not None:
        detail["receptor_extranjero"] = _attr(extranjero, "NumRegIdTrib", "NumRegIdTribR")
    return {
        "kind": "retenciones",
        "version": version,
        "tipo": TIPO_RETENCIONES,
        "serie": "",
        "folio": _attr(root, "FolioInt"),
        "emisor_rfc": _rfc(_attr(emisor, "RfcE", "RFCEmisor")),
        "emisor_nombre": _attr(emisor, "NomDenRazSocE"),
        "receptor_rfc": receptor_rfc,
        "receptor_nombre": receptor_nombre,
        "fecha_emision": _date(_attr(root, "FechaExp")),
        "subtotal": "",
        "descuento": "",
        "total": _amount(_attr(totales, "MontoTotOperacion", "montoTotOperacion")),
        "moneda": "",
        "tipo_cambio": "",
        "total_retenido": _amount(_attr(totales, "MontoTotRet", "montoTotRet")),
        "total_trasladado": "",
        **_tfd_fields(_getter(tfd)),
        "monto_pagado": "",
        "detalle": json.dumps(detail, ensure_ascii=False),
    }


def _c_reader() -> Callable[[bytes], tuple[Any, ...] | None] | None:
    """The C reader, configured; None when it is not built or PASARELA_CFDI_C_READER=0 turns it off
    (every file then goes through lxml: for comparison, or if the reader is ever in doubt)."""
    if _cfdiscan is None or os.environ.get("PASARELA_CFDI_C_READER", "1") == "0":
        return None
    _cfdiscan.configure(_names_read())
    return _cfdiscan.scan_comprobante


# The C reader, or None (not built); tests set it to None to exercise the lxml paths.
SCANNER = _c_reader()
