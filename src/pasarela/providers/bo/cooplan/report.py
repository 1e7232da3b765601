"""What the cashier prints: the payment receipt, and our own daily collection report from the ledger
(payments, reversals, totals per day and cashier) as CSV and PDF, beside Cooplan's reportecobranzas."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from pasarela.core.errors import Conflict
from pasarela.ledger.models import Document
from pasarela.providers.bo.cooplan import mapping
from pasarela.providers.bo.cooplan.flow import KIND_PAYMENT, KIND_REVERSAL, PAID, PROVIDER, REVERSED
from pasarela.providers.bo.cooplan.mapping import ReporteCobranzas
from pasarela.runtime import Runtime

# --- receipt ---------------------------------------------------------------------------------------------


def receipt_lines(payment: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Comprobante de pago", f"Cooplan · documento {payment['id']}"),
        ("Contrato", str(payment["contrato"])),
        ("Socio", str(payment.get("nombre") or "")),
        ("Periodo", str(payment["periodo"])),
        ("Factura", str(payment["factura"])),
        ("Monto", f"Bs {payment['monto']}"),
        ("IdCobranza", str(payment.get("id_cobranza") or "")),
        ("Fecha de pago", str(payment.get("fecha_pago") or "")),
        ("Caja", str(payment.get("cajero") or "")),
        ("Estado", str(payment["estado"])),
    ]


def receipt_pdf(payment: dict[str, Any], provider_text: str) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    width, height = 80 * mm, 120 * mm  # a till slip
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    pdf.setTitle(f"Comprobante Cooplan {payment.get('id_cobranza')}")
    y = height - 10 * mm
    for label, value in receipt_lines(payment):
        pdf.setFont("Helvetica-Bold", 8)
        pdf.drawString(5 * mm, y, label)
        pdf.setFont("Helvetica", 8)
        pdf.drawString(30 * mm, y, value[:40])
        y -= 6 * mm
    pdf.setFont("Helvetica-Oblique", 7)
    pdf.drawString(5 * mm, y - 2 * mm, f"Cooplan: {provider_text}"[:60])
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# --- daily report -----------------------------------------------------------------------------------------


def daily_report(rt: Runtime, day: date) -> dict[str, Any]:
    """Payments and reversals whose Bolivian date is `day`, with totals per cashier."""
    start = datetime.combine(day - timedelta(days=1), datetime.min.time())
    end = datetime.combine(day + timedelta(days=2), datetime.min.time())
    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document)
            .where(
                Document.provider == PROVIDER,
                Document.kind.in_((KIND_PAYMENT, KIND_REVERSAL)),
                Document.updated_at >= start,
                Document.created_at < end,
            )
            .order_by(Document.id)
        ).all()
        payments = [_payment_row(d) for d in docs if d.kind == KIND_PAYMENT and d.state in (PAID, REVERSED)]
        reversals = [_reversal_row(d) for d in docs if d.kind == KIND_REVERSAL and d.state == REVERSED]
    payments = [p for p in payments if p["fecha_local"] == day.isoformat()]
    reversals = [r for r in reversals if r["fecha_local"] == day.isoformat()]
    return {
        "fecha": day.isoformat(),
        "pagos": payments,
        "reversiones": reversals,
        "por_cajero": _totals_by_cashier(payments, reversals),
        "totales": _totals(payments, reversals),
    }


def _payment_row(doc: Document) -> dict[str, Any]:
    result = doc.result or {}
    return {
        "documento": doc.id,
        "fecha_local": result.get("fecha_local", ""),
        "fecha_pago": result.get("fecha_pago", ""),
        "cajero": doc.data.get("cajero", ""),
        "contrato": doc.data["contrato"],
        "periodo": doc.data["periodo"],
        "factura": doc.data["factura"],
        "monto": doc.data["monto"],
        "id_cobranza": doc.provider_ref or "",
        "estado": doc.state,
    }


def _reversal_row(doc: Document) -> dict[str, Any]:
    result = doc.result or {}
    return {
        "documento": doc.id,
        "fecha_local": result.get("fecha_local", ""),
        "pago": doc.data["payment_id"],
        "cajero": doc.data.get("cajero", ""),
        "contrato": doc.data["contrato"],
        "periodo": doc.data["periodo"],
        "factura": doc.data["factura"],
        "monto": doc.data["monto"],
        "id_cobranza": doc.data["id_cobranza"],
    }


def _totals_by_cashier(payments: list[dict[str, Any]], reversals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sums: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pagos": 0, "cobrado": Decimal("0"), "reversiones": 0, "revertido": Decimal("0")}
    )
    for row in payments:
        sums[row["cajero"]]["pagos"] += 1
        sums[row["cajero"]]["cobrado"] += Decimal(row["monto"])
    for row in reversals:
        sums[row["cajero"]]["reversiones"] += 1
        sums[row["cajero"]]["revertido"] += Decimal(row["monto"])
    return [
        _money({"cajero": cajero, **s, "neto": s["cobrado"] - s["revertido"]}) for cajero, s in sorted(sums.items())
    ]


def _totals(payments: list[dict[str, Any]], reversals: list[dict[str, Any]]) -> dict[str, Any]:
    cobrado = sum((Decimal(p["monto"]) for p in payments), Decimal("0"))
    revertido = sum((Decimal(r["monto"]) for r in reversals), Decimal("0"))
    return _money(
        {
            "pagos": len(payments),
            "cobrado": cobrado,
            "reversiones": len(reversals),
            "revertido": revertido,
            "neto": cobrado - revertido,
        }
    )


def _money(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(mapping.redondeo_bob(v)) if isinstance(v, Decimal) else v for k, v in row.items()}


def compare_with_provider(report: dict[str, Any], provider: ReporteCobranzas | None) -> dict[str, Any]:
    """Our payments against reportecobranzas' rows (when Cooplan sends rows at all)."""
    if provider is None:
        return {"disponible": False, "mensaje": "reportecobranzas no consultado"}
    if not provider.has_rows:
        return {"disponible": False, "mensaje": f"Cooplan respondió sin filas: {provider.message!r}"}
    ours = {p["id_cobranza"] for p in report["pagos"]}
    theirs = {r.id_cobranza for r in provider.rows}
    return {
        "disponible": True,
        "filas": [r.as_dict() for r in provider.rows],
        "solo_en_ledger": sorted(ours - theirs),
        "solo_en_cooplan": sorted(theirs - ours),
    }


CSV_COLUMNS = [
    "tipo",
    "documento",
    "fecha_pago",
    "cajero",
    "contrato",
    "periodo",
    "factura",
    "monto",
    "id_cobranza",
    "estado",
]


def report_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in report["pagos"]:
        writer.writerow(["pago", *(p[c] for c in CSV_COLUMNS[1:])])
    for r in report["reversiones"]:
        writer.writerow(
            [
                "reversion",
                r["documento"],
                "",
                r["cajero"],
                r["contrato"],
                r["periodo"],
                r["factura"],
                f"-{r['monto']}",
                r["id_cobranza"],
                "reversed",
            ]
        )
    for c in report["por_cajero"]:
        writer.writerow(
            [
                "total_cajero",
                "",
                "",
                c["cajero"],
                "",
                "",
                "",
                c["neto"],
                "",
                f"{c['pagos']} pagos/{c['reversiones']} rev.",
            ]
        )
    t = report["totales"]
    writer.writerow(
        [
            "total_dia",
            "",
            report["fecha"],
            "",
            "",
            "",
            "",
            t["neto"],
            "",
            f"{t['pagos']} pagos/{t['reversiones']} rev.",
        ]
    )
    return out.getvalue().encode("utf-8")


def report_pdf(report: dict[str, Any], comparison: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), title=f"Cobranzas Cooplan {report['fecha']}")
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
        ]
    )

    def table(rows: list[list[Any]]) -> Table:
        t = Table(rows, repeatRows=1)
        t.setStyle(grid)
        return t

    story: list[Any] = [Paragraph(f"Cobranzas Cooplan del {report['fecha']} (ledger pasarela)", styles["Title"])]
    story.append(table([CSV_COLUMNS[1:]] + [[str(p[c]) for c in CSV_COLUMNS[1:]] for p in report["pagos"]]))
    story += [Spacer(1, 8), Paragraph("Reversiones", styles["Heading2"])]
    story.append(
        table(
            [["documento", "pago", "cajero", "contrato", "periodo", "monto", "id_cobranza"]]
            + [
                [str(r[c]) for c in ("documento", "pago", "cajero", "contrato", "periodo", "monto", "id_cobranza")]
                for r in report["reversiones"]
            ]
        )
    )
    story += [Spacer(1, 8), Paragraph("Totales por caja", styles["Heading2"])]
    cols = ["cajero", "pagos", "cobrado", "reversiones", "revertido", "neto"]
    story.append(
        table(
            [cols]
            + [[str(c[k]) for k in cols] for c in report["por_cajero"]]
            + [["TOTAL", *[str(report["totales"][k]) for k in cols[1:]]]]
        )
    )
    story += [Spacer(1, 8), Paragraph("Conciliación con reportecobranzas", styles["Heading2"])]
    if comparison.get("disponible"):
        text = (
            f"Solo en el ledger: {', '.join(comparison['solo_en_ledger']) or 'ninguna'} · "
            f"Solo en Cooplan: {', '.join(comparison['solo_en_cooplan']) or 'ninguna'}"
        )
    else:
        text = str(comparison.get("mensaje", ""))
    story.append(Paragraph(text, styles["Normal"]))
    doc.build(story)
    return buffer.getvalue()


def print_payment(rt: Runtime, payment_id: int) -> dict[str, Any]:
    """imprimirfactura for a confirmed payment; keep Cooplan's answer and our receipt PDF."""
    from pasarela.ledger import service
    from pasarela.providers.bo.cooplan.client import client_for
    from pasarela.providers.bo.cooplan.flow import payment_view, provider_read

    payment = payment_view(rt, payment_id)
    if payment["estado"] != PAID:
        raise Conflict(
            f"el pago {payment_id} está en estado {payment['estado']}; solo se imprime un pago confirmado"
        )
    client = client_for(rt, document_id=payment_id)
    answer = provider_read(lambda: client.imprimir_factura(str(payment["factura"]), str(payment["id_cobranza"])))
    provider_text = answer if isinstance(answer, str) else str(answer)
    with rt.db.transaction() as session:
        doc = session.get(Document, payment_id)
        assert doc is not None
        printed = {
            "respuesta": provider_text,
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        doc.result = {**(doc.result or {}), "impresion": printed}
        payment = {**payment, "impresion": printed}
        service.store_artifact(
            session,
            rt.artifacts_dir,
            doc,
            "comprobante.pdf",
            receipt_pdf(payment, provider_text),
            "application/pdf",
        )
    return {**payment, "comprobante": f"/api/documents/{payment_id}/artifacts/comprobante.pdf"}


def report_with_provider(rt: Runtime, day: date) -> dict[str, Any]:
    """Our report plus Cooplan's reportecobranzas for the same day (an outage there does not hide ours)."""
    from pasarela.core.errors import ProviderError
    from pasarela.providers.bo.cooplan.client import client_for

    report = daily_report(rt, day)
    try:
        provider: ReporteCobranzas | None = client_for(rt).reporte_cobranzas(day)
        report["cooplan"] = compare_with_provider(report, provider)
    except ProviderError as exc:
        report["cooplan"] = {"disponible": False, "mensaje": exc.message}
    return report
