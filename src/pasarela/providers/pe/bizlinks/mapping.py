"""Our stored document → signed UBL bytes and the SUNAT file name (no transport here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from pasarela.core.errors import InvalidInput
from pasarela.providers.pe.bizlinks.config import PeConfig, cached_credential
from pasarela.providers.pe.ubl import builder
from pasarela.providers.pe.ubl.cdr import zip_one
from pasarela.providers.pe.ubl.model import DocumentIn, Totals
from pasarela.providers.pe.ubl.signing import sign_canonical


@dataclass
class Signed:
    name: str  # 20000000001-01-F001-1
    xml: bytes
    zip: bytes
    digest: str
    totals: Totals | None
    doc_in: DocumentIn | None


def signed_document(config: PeConfig, data: dict[str, Any]) -> Signed:
    try:
        doc_in = DocumentIn.model_validate(data["input"])
    except ValueError as exc:
        raise InvalidInput(f"datos del comprobante inválidos: {exc}", "input") from None
    built = builder.build_document(
        doc_in,
        int(data["number"]),
        config.issuer,
        date.fromisoformat(data["issue_date"]),
        time.fromisoformat(data["issue_time"]),
    )
    xml, digest = sign_canonical(built.xml, built.namespaces, cached_credential(config))
    return Signed(built.file_name, xml, zip_one(built.file_name, xml), digest, built.totals, doc_in)


def signed_summary(config: PeConfig, kind: str, data: dict[str, Any]) -> Signed:
    issue_date = date.fromisoformat(data["issue_date"])
    reference_date = date.fromisoformat(data["reference_date"])
    if kind == "RA":
        items = [builder.VoidItem(i["doc_type"], i["series"], int(i["number"]), i["reason"]) for i in data["items"]]
        built = builder.build_voided(config.issuer, int(data["number"]), reference_date, issue_date, items)
    else:
        rc_items = [
            builder.SummaryItem(
                doc_type=i["doc_type"],
                doc_id=i["doc_id"],
                customer_doc_type=i["customer_doc_type"],
                customer_doc_number=i["customer_doc_number"],
                condition=i["condition"],
                currency=i["currency"],
                total=Decimal(i["total"]),
                taxable=Decimal(i["taxable"]),
                igv=Decimal(i["igv"]),
                exonerated=Decimal(i.get("exonerated", "0")),
                unaffected=Decimal(i.get("unaffected", "0")),
                reference=tuple(i["reference"]) if i.get("reference") else None,  # type: ignore[arg-type]
            )
            for i in data["items"]
        ]
        built = builder.build_summary(config.issuer, int(data["number"]), reference_date, issue_date, rc_items)
    xml, digest = sign_canonical(built.xml, built.namespaces, cached_credential(config))
    return Signed(built.file_name, xml, zip_one(built.file_name, xml), digest, None, None)


def summary_item(data: dict[str, Any], result: dict[str, Any], condition: str) -> dict[str, Any]:
    """One RC line from an issued boleta (or a B-series note)."""
    doc_in = data["input"]
    totals = result.get("totals", {})
    item = {
        "doc_type": doc_in["type"],
        "doc_id": data["doc_id"],
        "customer_doc_type": doc_in["customer"]["doc_type"],
        "customer_doc_number": doc_in["customer"]["doc_number"],
        "condition": condition,
        "currency": doc_in.get("currency", "PEN"),
        "total": totals.get("payable", "0"),
        "taxable": totals.get("gravadas", "0"),
        "igv": totals.get("igv", "0"),
        "exonerated": totals.get("exoneradas", "0"),
        "unaffected": totals.get("inafectas", "0"),
    }
    if doc_in.get("reference"):
        item["reference"] = [doc_in["reference"]["doc_type"], doc_in["reference"]["id"]]
    return item


def totals_dict(totals: Totals) -> dict[str, str]:
    def base(code: str) -> str:
        return f"{totals.by_tributo.get(code, (Decimal('0'), Decimal('0')))[0]:.2f}"

    return {
        "gravadas": base("1000"),
        "exoneradas": base("9997"),
        "inafectas": base("9998"),
        "exportacion": base("9995"),
        "gratuitas": f"{totals.free_value:.2f}",
        "igv": f"{totals.igv:.2f}",
        "icbper": f"{totals.icbper:.2f}",
        "payable": f"{totals.payable:.2f}",
    }
