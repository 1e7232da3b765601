"""What Facto hands back after issuing, as the simulator produces it: a DTE-shaped XML (SII schema
names), the timbre electrónico as a PDF417 PNG, and a printable PDF of the document."""

from __future__ import annotations

import io
from typing import Any

import pdf417gen
from lxml import etree
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from pasarela.providers.cl.facto.mapping import DOCUMENT_NAMES

SII_NS = "http://www.sii.cl/SiiDte"
TITLES = {
    33: "FACTURA ELECTRÓNICA",
    34: "FACTURA NO AFECTA O EXENTA ELECTRÓNICA",
    39: "BOLETA ELECTRÓNICA",
    41: "BOLETA EXENTA ELECTRÓNICA",
}


def dte_xml(doc: dict[str, Any]) -> bytes:
    enc, tot = doc["encabezado"], doc["totales"]
    root = etree.Element("DTE", nsmap={None: SII_NS}, version="1.0")
    documento = etree.SubElement(root, "Documento", ID=f"T{enc['tipo_dte']}F{doc['folio']}")
    header = etree.SubElement(documento, "Encabezado")
    _add(etree.SubElement(header, "IdDoc"), TipoDTE=enc["tipo_dte"], Folio=doc["folio"], FchEmis=enc["fecha_emision"])
    _add(etree.SubElement(header, "Emisor"), RUTEmisor=doc["emisor_rut"], RznSoc=doc["emisor_razon"])
    _add(
        etree.SubElement(header, "Receptor"),
        RUTRecep=enc.get("receptor_rut") or "66666666-6",
        RznSocRecep=enc.get("receptor_razon") or "Consumidor final",
        GiroRecep=enc.get("receptor_giro"),
        DirRecep=enc.get("receptor_direccion"),
        CmnaRecep=enc.get("receptor_comuna"),
        CiudadRecep=enc.get("receptor_ciudad"),
    )
    _add(
        etree.SubElement(header, "Totales"),
        MntNeto=tot.get("total_afecto") or None,
        MntExe=tot.get("total_exento") or None,
        TasaIVA="19" if tot.get("total_afecto") else None,
        IVA=tot.get("total_iva") or None,
        MntTotal=tot["total_final"],
    )
    for number, line in enumerate(doc["detalles"], start=1):
        _add(
            etree.SubElement(documento, "Detalle"),
            NroLinDet=number,
            IndExe="1" if str(line.get("exento_afecto")) == "0" else None,
            NmbItem=line["glosa"],
            QtyItem=line["cantidad"],
            PrcItem=line["monto_unitario"],
            MontoItem=line["monto"],
        )
    for number, ref in enumerate(doc.get("referencias", []), start=1):
        _add(
            etree.SubElement(documento, "Referencia"),
            NroLinRef=number,
            TpoDocRef=ref.get("docreferencia_tipo"),
            FolioRef=ref.get("docreferencia_folio"),
            FchRef=ref.get("docreferencia_fecha"),
            CodRef=ref.get("codigo_referencia"),
            RazonRef=ref.get("descripcion"),
        )
    ted = etree.SubElement(documento, "TED", version="1.0")
    ted.text = timbre_text(doc)
    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1", pretty_print=True)


def _add(parent: Any, **values: Any) -> None:
    for key, value in values.items():
        if value is not None and value != "":
            etree.SubElement(parent, key).text = str(value)


def timbre_text(doc: dict[str, Any]) -> str:
    enc = doc["encabezado"]
    first = doc["detalles"][0]["glosa"][:40] if doc["detalles"] else ""
    return (
        f"RE={doc['emisor_rut']}|TD={enc['tipo_dte']}|F={doc['folio']}|FE={enc['fecha_emision']}|"
        f"RR={enc.get('receptor_rut') or '66666666-6'}|MNT={doc['totales']['total_final']}|IT1={first}|"
        f"TSTED={doc['created_at'][:19]}|FRMT={doc['hash'][:32]}"
    )


def timbre_png(doc: dict[str, Any]) -> bytes:
    codes = pdf417gen.encode(timbre_text(doc), columns=12, security_level=5)
    image = pdf417gen.render_image(codes, scale=2, ratio=3, padding=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def document_pdf(doc: dict[str, Any]) -> bytes:
    enc, tot = doc["encabezado"], doc["totales"]
    tipo = int(enc["tipo_dte"])
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=LETTER, pageCompression=1)
    pdf.setTitle(f"{DOCUMENT_NAMES.get(tipo, 'DTE')} {doc['folio']}")
    width, height = LETTER
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(20 * mm, height - 25 * mm, doc["emisor_razon"])
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20 * mm, height - 31 * mm, "Venta en línea")
    pdf.setStrokeColor(colors.red)
    pdf.setLineWidth(2)
    pdf.rect(width - 90 * mm, height - 45 * mm, 70 * mm, 30 * mm)
    pdf.setFillColor(colors.red)
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawCentredString(width - 55 * mm, height - 23 * mm, f"R.U.T.: {doc['emisor_rut']}")
    pdf.drawCentredString(width - 55 * mm, height - 31 * mm, TITLES.get(tipo, "DTE"))
    pdf.drawCentredString(width - 55 * mm, height - 39 * mm, f"N° {doc['folio']}")
    pdf.setFillColor(colors.black)
    pdf.setFont("Helvetica", 9)
    y = height - 55 * mm
    receptor = [("Fecha de emisión", enc["fecha_emision"])]
    if enc.get("receptor_rut"):
        receptor += [
            ("Señor(es)", enc.get("receptor_razon", "")),
            ("R.U.T.", enc["receptor_rut"]),
            ("Giro", enc.get("receptor_giro", "")),
            ("Dirección", enc.get("receptor_direccion", "")),
            ("Comuna", enc.get("receptor_comuna", "")),
        ]
    if enc.get("receptor_email"):
        receptor.append(("Email", enc["receptor_email"]))
    for label, value in receptor:
        pdf.drawString(20 * mm, y, f"{label}: {value}")
        y -= 5 * mm
    y -= 4 * mm
    pdf.setFont("Helvetica-Bold", 9)
    for x, title in ((20, "Cantidad"), (40, "Detalle"), (140, "Precio unit."), (175, "Total")):
        pdf.drawString(x * mm, y, title)
    pdf.line(20 * mm, y - 2 * mm, width - 20 * mm, y - 2 * mm)
    pdf.setFont("Helvetica", 9)
    y -= 7 * mm
    for line in doc["detalles"]:
        pdf.drawString(20 * mm, y, str(line["cantidad"]))
        pdf.drawString(
            40 * mm, y, str(line["glosa"])[:55] + (" (exento)" if str(line.get("exento_afecto")) == "0" else "")
        )
        pdf.drawRightString(165 * mm, y, _pesos(line["monto_unitario"]))
        pdf.drawRightString(width - 20 * mm, y, _pesos(line["monto"]))
        y -= 5 * mm
    y -= 5 * mm
    pdf.setFont("Helvetica-Bold", 10)
    for label, key in (
        ("Monto neto", "total_afecto"),
        ("Monto exento", "total_exento"),
        ("IVA 19%", "total_iva"),
        ("Total", "total_final"),
    ):
        if int(tot.get(key) or 0) or key == "total_final":
            pdf.drawString(130 * mm, y, label)
            pdf.drawRightString(width - 20 * mm, y, _pesos(tot.get(key) or 0))
            y -= 6 * mm
    pdf.drawImage(
        ImageReader(io.BytesIO(timbre_png(doc))),
        20 * mm,
        25 * mm,
        width=80 * mm,
        height=30 * mm,
        preserveAspectRatio=True,
    )
    pdf.setFont("Helvetica", 7)
    pdf.drawString(20 * mm, 21 * mm, "Timbre Electrónico SII — Res. 80 de 2014 — Verifique documento: www.sii.cl")
    pdf.drawString(20 * mm, 17 * mm, "Documento generado por el simulador de Facto (pasarela): sin validez tributaria")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _pesos(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
    return "$" + text.replace(",", ".")
