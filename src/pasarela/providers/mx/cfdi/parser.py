"""CFDI 3.2 / 3.3 / 4.0 and Retenciones 1.0 / 2.0 (with Pagos 1.0 / 2.0) → one flat index record.

Built for ingest speed: one ``parse_xml`` (DTDs and entities refused) and a walk over direct
children by local name, no XPath. Lenient where the SAT's own files are sloppy (mexico.md §4): a
UTF-8 BOM, whitespace before the XML declaration, leading spaces in RFCs, ``&``/``Ñ`` in RFCs,
foreign-namespace addenda; a file that is not well-formed is re-read with lxml's ``recover``.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from pasarela.core.xml import MAX_XML_BYTES, UnsafeXML, parse_xml

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


# The attributes the index reads, per element: fetched by name, because ``items()`` would also
# decode the long ones nobody reads (Certificado ≈ 1.7 kB, Sello, SelloCFD, SelloSAT): measured
# 8.1 µs for the root's ``items()`` against 4.2 µs for these ten ``get``.
TOP_NAMES = ("TipoDeComprobante", "Serie", "Folio", "Fecha", "SubTotal", "Descuento", "Total", "Moneda",
             "TipoCambio")
PARTY_NAMES = ("Rfc", "Nombre")
TAX_NAMES = ("TotalImpuestosRetenidos", "TotalImpuestosTrasladados")
TFD_NAMES = ("UUID", "FechaTimbrado", "RfcProvCertif")
PAGO_NAMES = ("Monto", "FechaPago", "FormaDePagoP", "MonedaP")
DOCTO_NAMES = ("IdDocumento", "Serie", "Folio", "MonedaDR", "NumParcialidad", "ImpSaldoAnt", "ImpPagado",
               "ImpSaldoInsoluto")


def _pick(element: Any, names: tuple[str, ...], legacy: bool = False) -> dict[str, str]:
    """``names`` of an element's attributes (those present). ``legacy``: every attribute with its
    first letter capitalised (CFDI 3.2), as ``_attrs``."""
    if element is None:
        return {}
    if legacy:
        return _attrs(element, True)
    get = element.get
    found = {}
    for name in names:
        value = get(name)
        if value is not None:
            found[name] = value
    return found


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
    value = value.strip() if value else ""
    if not value:
        return ""
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
    or loads anything, and then refused)."""
    if len(data) > MAX_XML_BYTES or data.find(b"<!DOCTYPE", 0, 4096) >= 0:
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


def load_root(data: bytes) -> Any:
    """Safe parse with a lenient second chance; hostile XML (DTD/entities) is never recovered."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    data = data.lstrip()
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


def parse_cfdi(data: bytes) -> dict[str, Any]:
    """Bytes of one CFDI or Retenciones file → the index record (``XML_FIELDS``)."""
    root = load_root(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    local, ns = _local(tag), _ns(tag)
    if local == "Comprobante" and ns in NS_CFDI:
        return _comprobante(root)
    if local == "Retenciones" and ns in NS_RETENCIONES:
        return _retenciones(root)
    raise CfdiError(f"no es un CFDI ni un comprobante de retenciones (raíz {local or '?'!s})")


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


def _tfd_fields(attrs: dict[str, str]) -> dict[str, str]:
    return {
        "uuid": normalize_uuid(attrs.get("UUID", "")),
        "fecha_certificacion": _date(attrs.get("FechaTimbrado")),
        "pac_rfc": _rfc(attrs.get("RfcProvCertif")),
    }


def _comprobante(root: Any) -> dict[str, Any]:
    """One pass over the root's direct children; each element's attributes read once."""
    version = _attr(root, "Version", "version")
    legacy = version.startswith("3.2")
    top = _pick(root, TOP_NAMES, legacy)
    emisor = receptor = impuestos = complemento = None
    for child in root:
        name = _local(child.tag)
        if name == "Emisor" and emisor is None:
            emisor = child
        elif name == "Receptor" and receptor is None:
            receptor = child
        elif name == "Impuestos" and impuestos is None:
            impuestos = child
        elif name == "Complemento" and complemento is None:
            complemento = child
    em, re = _pick(emisor, PARTY_NAMES, legacy), _pick(receptor, PARTY_NAMES, legacy)
    tax = _pick(impuestos, TAX_NAMES, legacy)
    tfd, complements = _timbre(complemento)
    pagos = complements.get("Pagos")
    pagos_attrs = None
    if pagos is not None:
        pagos_attrs = [
            (_pick(pago, PAGO_NAMES),
             [_pick(d, DOCTO_NAMES) for d in pago if _local(d.tag) == "DoctoRelacionado"])
            for pago in pagos if _local(pago.tag) == "Pago"]
    return _comprobante_record(version, top, em, re, tax, _pick(tfd, TFD_NAMES), pagos_attrs)


def _comprobante_record(version: str, top: dict[str, str], em: dict[str, str], re: dict[str, str],
                        tax: dict[str, str], tfd: dict[str, str],
                        pagos: list[tuple[dict[str, str], list[dict[str, str]]]] | None) -> dict[str, Any]:
    """The index record from the attributes of the few elements it reads (both parse paths)."""
    legacy = version.startswith("3.2")
    tipo = _text(top.get("TipoDeComprobante"))
    tipo = TIPO_32.get(tipo.lower(), tipo.upper()) if legacy or len(tipo) > 1 else tipo.upper()
    record: dict[str, Any] = {
        "kind": "cfdi",
        "version": version,
        "tipo": tipo,
        "serie": _text(top.get("Serie")),
        "folio": _text(top.get("Folio")),
        "emisor_rfc": _rfc(em.get("Rfc")),
        "emisor_nombre": _text(em.get("Nombre")),
        "receptor_rfc": _rfc(re.get("Rfc")),
        "receptor_nombre": _text(re.get("Nombre")),
        "fecha_emision": _date(top.get("Fecha")),
        "subtotal": _amount(top.get("SubTotal")),
        "descuento": _amount(top.get("Descuento")),
        "total": _amount(top.get("Total")),
        "moneda": _text(top.get("Moneda")),
        "tipo_cambio": _amount(top.get("TipoCambio")),
        "total_retenido": _amount(tax.get("TotalImpuestosRetenidos")),
        "total_trasladado": _amount(tax.get("TotalImpuestosTrasladados")),
        **_tfd_fields(tfd),
        "monto_pagado": "",
        "detalle": "",
    }
    if pagos is not None:
        paid, detail = _pagos(pagos)
        record["monto_pagado"] = paid
        record["detalle"] = json.dumps({"pagos": detail}, ensure_ascii=False)
    return record


def _get(attrs: dict[str, str], name: str) -> str:
    value = attrs.get(name)
    return value.strip() if value is not None else ""


def _pagos(pagos: list[tuple[dict[str, str], list[dict[str, str]]]]) -> tuple[str, list[dict[str, Any]]]:
    """Pagos 1.0 / 2.0: the paid amounts live only in the complement (the CFDI says Total=0).
    ``pagos``: each Pago's attributes with its DoctoRelacionado's attributes, in document order."""
    total = Decimal(0)
    detail = []
    for pago, documentos in pagos:
        monto = _amount(_get(pago, "Monto"))
        total += Decimal(monto or 0)
        doctos = [
            {
                "id_documento": normalize_uuid(_get(d, "IdDocumento")),
                "serie": _get(d, "Serie"),
                "folio": _get(d, "Folio"),
                "moneda": _get(d, "MonedaDR"),
                "parcialidad": _get(d, "NumParcialidad"),
                "saldo_anterior": _amount(_get(d, "ImpSaldoAnt")),
                "pagado": _amount(_get(d, "ImpPagado")),
                "saldo_insoluto": _amount(_get(d, "ImpSaldoInsoluto")),
            }
            for d in documentos
        ]
        detail.append({
            "fecha_pago": _date(_get(pago, "FechaPago")),
            "forma_pago": _get(pago, "FormaDePagoP"),
            "moneda": _get(pago, "MonedaP"),
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
    tfd_attrs = _pick(tfd, TFD_NAMES)
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
        **_tfd_fields(tfd_attrs),
        "monto_pagado": "",
        "detalle": json.dumps(detail, ensure_ascii=False),
    }
