"""After issuing: the representación impresa (PDF with the SUNAT QR) and the e-mail to the customer."""

from __future__ import annotations

import io
import logging
import smtplib
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from pasarela.flow import RetryJob
from pasarela.ledger import service
from pasarela.ledger.models import Document
from pasarela.providers.pe.bizlinks.config import pe_config
from pasarela.providers.pe.ubl import amounts, catalogs
from pasarela.runtime import Runtime

log = logging.getLogger("pasarela.pe")


def qr_content(ruc: str, data: dict[str, Any], result: dict[str, Any]) -> str:
    """RUC|TIPO|SERIE|NUMERO|IGV|TOTAL|FECHA|TIPO DOC ADQ|NUM DOC ADQ|HASH (SUNAT's QR)."""
    doc_in = data["input"]
    totals = result.get("totals", {})
    series, number = str(data["doc_id"]).split("-")
    return "|".join(
        [
            ruc,
            doc_in["type"],
            series,
            number,
            totals.get("igv", "0.00"),
            totals.get("payable", "0.00"),
            data["issue_date"],
            doc_in["customer"]["doc_type"],
            doc_in["customer"]["doc_number"],
            result.get("hash", ""),
        ]
    )


def render_pdf(ruc: str, issuer: Any, data: dict[str, Any], result: dict[str, Any], state: str) -> bytes:
    doc_in = data["input"]
    totals = result.get("totals", {})
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    width, height = A4
    pdf.setTitle(f"{catalogs.DOC_TYPES[doc_in['type']]} {data['doc_id']}")
    y = height - 20 * mm
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(20 * mm, y, issuer.name)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20 * mm, y - 5 * mm, issuer.address)
    pdf.rect(125 * mm, y - 16 * mm, 65 * mm, 24 * mm)
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawCentredString(157.5 * mm, y + 2 * mm, f"RUC {ruc}")
    pdf.drawCentredString(157.5 * mm, y - 5 * mm, catalogs.DOC_TYPES[doc_in["type"]])
    pdf.drawCentredString(157.5 * mm, y - 12 * mm, data["doc_id"])
    y -= 28 * mm
    pdf.setFont("Helvetica", 9)
    customer = doc_in["customer"]
    for text in (
        f"Fecha de emisión: {data['issue_date']} {data['issue_time']}",
        f"Cliente: {customer['name']}",
        f"{catalogs.IDENTITY_DOCS.get(customer['doc_type'], 'DOC')}: {customer['doc_number']}",
        f"Moneda: {doc_in.get('currency', 'PEN')}",
    ):
        pdf.drawString(20 * mm, y, text)
        y -= 5 * mm
    if doc_in.get("reference"):
        pdf.drawString(20 * mm, y, f"Documento que modifica: {doc_in['reference']['id']}")
        y -= 5 * mm
    y -= 4 * mm
    pdf.setFont("Helvetica-Bold", 9)
    for x, label in ((20, "Cant."), (35, "Descripción"), (140, "V. unitario"), (170, "Valor venta")):
        pdf.drawString(x * mm, y, label)
    pdf.setFont("Helvetica", 9)
    for line in doc_in["lines"]:
        y -= 5 * mm
        if y < 70 * mm:
            pdf.showPage()
            y = height - 20 * mm
            pdf.setFont("Helvetica", 9)
        pdf.drawString(20 * mm, y, str(line["quantity"]))
        pdf.drawString(35 * mm, y, str(line["description"])[:60])
        pdf.drawRightString(160 * mm, y, amounts.fmt(Decimal(str(line.get("unit_value", "0")))))
    y -= 10 * mm
    for label, key in (
        ("Op. gravadas", "gravadas"),
        ("Op. exoneradas", "exoneradas"),
        ("Op. inafectas", "inafectas"),
        ("Op. gratuitas", "gratuitas"),
        ("IGV 18 %", "igv"),
        ("ICBPER", "icbper"),
        ("IMPORTE TOTAL", "payable"),
    ):
        if totals.get(key, "0.00") != "0.00" or key in ("igv", "payable"):
            pdf.drawString(130 * mm, y, label)
            pdf.drawRightString(190 * mm, y, totals.get(key, "0.00"))
            y -= 5 * mm
    pdf.drawString(
        20 * mm,
        y - 2 * mm,
        "SON: " + amounts.amount_in_words(Decimal(totals.get("payable", "0")), doc_in.get("currency", "PEN")),
    )
    qr = segno.make(qr_content(ruc, data, result), error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=4, border=2)
    png.seek(0)
    pdf.drawImage(ImageReader(png), 20 * mm, 20 * mm, 35 * mm, 35 * mm)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(60 * mm, 48 * mm, f"Representación impresa de la {catalogs.DOC_TYPES[doc_in['type']].lower()}")
    pdf.drawString(60 * mm, 43 * mm, f"Resumen (hash): {result.get('hash', '')}")
    cdr = f"CDR {result.get('cdr_code', '-')}: {result.get('cdr_description', '')}"
    pdf.drawString(60 * mm, 38 * mm, cdr[:100])
    for i, note in enumerate(result.get("cdr_notes", [])[:3]):
        pdf.drawString(60 * mm, (33 - 4 * i) * mm, f"Observación: {note}"[:110])
    pdf.drawString(60 * mm, 20 * mm, f"Estado: {state}. Autorizado mediante Bizlinks OSE.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def pdf_for(rt: Runtime, doc_id: int) -> tuple[str, bytes]:
    config = pe_config(rt.settings)
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        data, result, state = dict(doc.data), dict(doc.result or {}), doc.state
    name = f"{data['ruc']}-{data['input']['type']}-{data['doc_id']}.pdf"
    return name, render_pdf(data["ruc"], config.issuer, data, result, state)


def after_issue(rt: Runtime, doc_id: int) -> None:
    name, pdf = pdf_for(rt, doc_id)
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        service.store_artifact(session, rt.artifacts_dir, doc, name, pdf, "application/pdf")
        email = (doc.data["input"].get("customer") or {}).get("email")
        xml_artifact = next((a for a in doc.artifacts if a.name.endswith(".xml") and not a.name.startswith("R-")), None)
        xml_path = Path(xml_artifact.path) if xml_artifact else None
        already_mailed = bool((doc.result or {}).get("emailed_to"))
    host = str(rt.settings.get("smtp.host", ""))
    if already_mailed or not email or not host or not pe_config(rt.settings)["email_documents"]:
        return  # a second run of this follow-up sends no second mail
    try:
        _send_mail(rt, doc_id, email, name, pdf, xml_path)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("correo de %s no enviado: %s", name, exc)
        _mark(rt, doc_id, {"email_error": f"{type(exc).__name__}: {exc}"})
        raise RetryJob(f"correo de {name} no enviado: {type(exc).__name__}") from exc
    _mark(rt, doc_id, {"emailed_to": email, "email_error": None})


def _mark(rt: Runtime, doc_id: int, values: dict[str, Any]) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.result = {**(doc.result or {}), **values}


def _send_mail(rt: Runtime, doc_id: int, to: str, pdf_name: str, pdf: bytes, xml_path: Path | None) -> None:
    config = pe_config(rt.settings)
    message = EmailMessage()
    # One id per document: should a crash ever make us send twice, the mail reader sees the same message.
    message["Message-ID"] = f"<pasarela-pe-{config.ruc}-{doc_id}@pasarela>"
    message["From"] = str(rt.settings.get("smtp.from", "pasarela@localhost"))
    message["To"] = to
    message["Subject"] = f"Comprobante electrónico {pdf_name[:-4]} - {config['name']}"
    message.set_content(f"Adjuntamos su comprobante electrónico {pdf_name[:-4]} (PDF y XML).")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    if xml_path is not None and xml_path.exists():
        message.add_attachment(xml_path.read_bytes(), maintype="application", subtype="xml", filename=xml_path.name)
    with smtplib.SMTP(str(rt.settings.get("smtp.host")), int(rt.settings.get("smtp.port", 25)), timeout=10) as smtp:
        user = str(rt.settings.get("smtp.user", ""))
        if user:
            smtp.login(user, str(rt.settings.get("smtp.password", "")))
        smtp.send_message(message)
