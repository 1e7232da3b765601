"""UBL 2.1 documents (01, 03, 07, 08) and UBL 2.0 summaries (RC, RA) as SUNAT expects them
(reference §5). The result is the unsigned document in canonical form (see canonical.py) with an empty
ext:ExtensionContent where the signature goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from pasarela.providers.pe.ubl import amounts, catalogs
from pasarela.providers.pe.ubl.canonical import CanonicalWriter
from pasarela.providers.pe.ubl.model import DocumentIn, LineTotals, Totals, compute_totals

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "sac": "urn:sunat:names:specification:ubl:peru:schema:xsd:SunatAggregateComponents-1",
}
ROOT_NS = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "DebitNote": "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2",
    "SummaryDocuments": "urn:sunat:names:specification:ubl:peru:schema:xsd:SummaryDocuments-1",
    "VoidedDocuments": "urn:sunat:names:specification:ubl:peru:schema:xsd:VoidedDocuments-1",
}
SIGNATURE_ID = "SIGN-PASARELA"


@dataclass(frozen=True)  # hashable: its blocks are rendered once per issuer (_signature_xml, _supplier_xml)
class Issuer:
    """Who issues: from the [pe] config section."""

    ruc: str
    name: str
    trade_name: str = ""
    address: str = ""
    ubigeo: str = "150101"
    district: str = ""
    province: str = ""
    department: str = ""
    establishment: str = "0000"  # AddressTypeCode: código de local anexo (3030 when missing)


@dataclass
class Built:
    xml: bytes  # unsigned, canonical (C14N 1.0), empty ext:ExtensionContent
    namespaces: dict[str | None, str]  # declared on the root: in scope where the signature goes
    totals: Totals
    doc_id: str  # F001-1
    file_name: str  # 20…-01-F001-1 (no extension)
    extra: dict[str, Any] = field(default_factory=dict)


def _amount(w: CanonicalWriter, tag: str, value: Decimal, currency: str) -> None:
    w.leaf("cbc:" + tag, amounts.fmt(value), currencyID=currency)


def _root(kind: str) -> CanonicalWriter:
    namespaces: dict[str | None, str] = {None: ROOT_NS[kind]}  # the default namespace is the document's own
    namespaces.update(NS)
    w = CanonicalWriter(kind, namespaces)
    with w.open("ext:UBLExtensions"), w.open("ext:UBLExtension"):
        w.leaf("ext:ExtensionContent")
    return w


def _built(w: CanonicalWriter, totals: Totals, doc_id: str, name: str) -> Built:
    return Built(w.finish(), w.namespaces, totals, doc_id, name)


# Blocks that are the same in every document of an issuer (or for every line of a kind) are rendered
# once and inserted as canonical text: this is about a third of the building time otherwise.


@lru_cache(maxsize=64)
def _signature_xml(issuer: Issuer) -> str:
    w = CanonicalWriter.fragment()
    with w.open("cac:Signature"):
        w.leaf("cbc:ID", SIGNATURE_ID)
        with w.open("cac:SignatoryParty"):
            with w.open("cac:PartyIdentification"):
                w.leaf("cbc:ID", issuer.ruc)
            with w.open("cac:PartyName"):
                w.leaf("cbc:Name", issuer.name)
        with w.open("cac:DigitalSignatureAttachment"), w.open("cac:ExternalReference"):
            w.leaf("cbc:URI", "#" + SIGNATURE_ID)
    return w.text()


@lru_cache(maxsize=64)
def _supplier_xml(issuer: Issuer) -> str:
    w = CanonicalWriter.fragment()
    with w.open("cac:AccountingSupplierParty"), w.open("cac:Party"):
        with w.open("cac:PartyIdentification"):
            w.leaf("cbc:ID", issuer.ruc, schemeID="6")
        if issuer.trade_name:
            with w.open("cac:PartyName"):
                w.leaf("cbc:Name", issuer.trade_name)
        with w.open("cac:PartyLegalEntity"):
            w.leaf("cbc:RegistrationName", issuer.name)
            with w.open("cac:RegistrationAddress"):
                w.leaf("cbc:ID", issuer.ubigeo)
                w.leaf("cbc:AddressTypeCode", issuer.establishment)
                if issuer.province:
                    w.leaf("cbc:CityName", issuer.province)
                if issuer.department:
                    w.leaf("cbc:CountrySubentity", issuer.department)
                if issuer.district:
                    w.leaf("cbc:District", issuer.district)
                if issuer.address:
                    with w.open("cac:AddressLine"):
                        w.leaf("cbc:Line", issuer.address)
                with w.open("cac:Country"):
                    w.leaf("cbc:IdentificationCode", "PE")
    return w.text()


def _customer(w: CanonicalWriter, doc: DocumentIn) -> None:
    with w.open("cac:AccountingCustomerParty"), w.open("cac:Party"):
        with w.open("cac:PartyIdentification"):
            w.leaf("cbc:ID", doc.customer.doc_number, schemeID=doc.customer.doc_type)
        with w.open("cac:PartyLegalEntity"):
            w.leaf("cbc:RegistrationName", doc.customer.name)
            if doc.customer.address:
                with w.open("cac:RegistrationAddress"), w.open("cac:AddressLine"):
                    w.leaf("cbc:Line", doc.customer.address)


def _tax_scheme(w: CanonicalWriter, tributo: catalogs.Tributo) -> None:
    w.raw(_tax_scheme_xml(tributo))


@cache
def _tax_scheme_xml(tributo: catalogs.Tributo) -> str:
    w = CanonicalWriter.fragment()
    with w.open("cac:TaxScheme"):
        w.leaf("cbc:ID", tributo.code)
        w.leaf("cbc:Name", tributo.name)
        w.leaf("cbc:TaxTypeCode", tributo.type_code)
    return w.text()


def _header_taxes(w: CanonicalWriter, totals: Totals, currency: str) -> None:
    with w.open("cac:TaxTotal"):
        _amount(w, "TaxAmount", totals.tax_total, currency)
        for code in sorted(totals.by_tributo):
            base, tax = totals.by_tributo[code]
            with w.open("cac:TaxSubtotal"):
                _amount(w, "TaxableAmount", base, currency)
                _amount(w, "TaxAmount", tax, currency)
                with w.open("cac:TaxCategory"):
                    _tax_scheme(w, catalogs.TRIBUTOS[code])
        if totals.icbper:
            with w.open("cac:TaxSubtotal"):
                _amount(w, "TaxAmount", totals.icbper, currency)
                with w.open("cac:TaxCategory"):
                    _tax_scheme(w, catalogs.TRIBUTOS["7152"])


def _monetary_total(w: CanonicalWriter, tag: str, totals: Totals, currency: str) -> None:
    with w.open("cac:" + tag):
        _amount(w, "LineExtensionAmount", totals.line_extension, currency)
        _amount(w, "TaxInclusiveAmount", totals.tax_inclusive, currency)
        _amount(w, "PayableAmount", totals.payable, currency)


LINE_TAGS = {
    "Invoice": ("InvoiceLine", "InvoicedQuantity"),
    "CreditNote": ("CreditNoteLine", "CreditedQuantity"),
    "DebitNote": ("DebitNoteLine", "DebitedQuantity"),
}


def _lines(w: CanonicalWriter, kind: str, doc: DocumentIn, totals: Totals, year: int) -> None:
    line_tag, qty_tag = LINE_TAGS[kind]
    for index, (line, lt) in enumerate(zip(doc.lines, totals.lines, strict=True), start=1):
        with w.open("cac:" + line_tag):
            w.leaf("cbc:ID", str(index))
            w.leaf("cbc:" + qty_tag, amounts.fmt_quantity(line.quantity), unitCode=line.unit)
            _amount(w, "LineExtensionAmount", lt.value, doc.currency)
            with w.open("cac:PricingReference"), w.open("cac:AlternativeConditionPrice"):
                w.leaf("cbc:PriceAmount", amounts.fmt_price(lt.unit_price), currencyID=doc.currency)
                w.leaf("cbc:PriceTypeCode", "02" if lt.free else "01")
            if line.discount and kind == "Invoice":
                _line_discount(w, line.discount, amounts.sunat_round(line.quantity * lt.unit_value), doc.currency)
            _line_taxes(w, line.affectation, line.bags, lt, doc.currency, year)
            with w.open("cac:Item"):
                w.leaf("cbc:Description", line.description)
                if line.code:
                    with w.open("cac:SellersItemIdentification"):
                        w.leaf("cbc:ID", line.code)
                if line.sunat_code:
                    with w.open("cac:CommodityClassification"):
                        w.leaf("cbc:ItemClassificationCode", line.sunat_code)
            with w.open("cac:Price"):
                w.leaf(
                    "cbc:PriceAmount",
                    amounts.fmt(Decimal("0")) if lt.free else amounts.fmt_price(lt.unit_value),
                    currencyID=doc.currency,
                )


def _line_discount(w: CanonicalWriter, discount: Decimal, gross: Decimal, currency: str) -> None:
    with w.open("cac:AllowanceCharge"):
        w.leaf("cbc:ChargeIndicator", "false")
        w.leaf("cbc:AllowanceChargeReasonCode", "00")
        w.leaf(
            "cbc:MultiplierFactorNumeric",
            f"{(discount / gross).quantize(Decimal('0.00001'))}" if gross else "0",
        )
        _amount(w, "Amount", discount, currency)
        _amount(w, "BaseAmount", gross, currency)


def _line_taxes(w: CanonicalWriter, affectation: str, bags: int, lt: LineTotals, currency: str, year: int) -> None:
    with w.open("cac:TaxTotal"):
        _amount(w, "TaxAmount", lt.igv + lt.icbper if not lt.free else lt.icbper, currency)
        with w.open("cac:TaxSubtotal"):
            _amount(w, "TaxableAmount", lt.value, currency)
            _amount(w, "TaxAmount", lt.igv, currency)
            w.raw(_line_tax_category_xml(affectation, lt.tributo))
        if bags:
            with w.open("cac:TaxSubtotal"):
                _amount(w, "TaxAmount", lt.icbper, currency)
                w.leaf("cbc:BaseUnitMeasure", str(bags), unitCode="NIU")
                with w.open("cac:TaxCategory"):
                    w.leaf("cbc:PerUnitAmount", amounts.fmt(amounts.icbper_rate(year)), currencyID=currency)
                    _tax_scheme(w, catalogs.TRIBUTOS["7152"])


@lru_cache(maxsize=128)  # affectation is checked against catalog 07: few keys
def _line_tax_category_xml(affectation: str, tributo: catalogs.Tributo) -> str:
    w = CanonicalWriter.fragment()
    with w.open("cac:TaxCategory"):
        w.leaf("cbc:Percent", amounts.fmt_quantity(amounts.IGV_PERCENT))
        w.leaf("cbc:TaxExemptionReasonCode", affectation)
        _tax_scheme(w, tributo)
    return w.text()


def file_name(ruc: str, doc_type: str, doc_id: str) -> str:
    return f"{ruc}-{doc_type}-{doc_id}"


def build_document(doc: DocumentIn, number: int, issuer: Issuer, issue_date: date, issue_time: time) -> Built:
    """The unsigned UBL 2.1 document for a factura, boleta or note."""
    kind = catalogs.ROOT_OF_TYPE[doc.type]
    totals = compute_totals(doc, issue_date.year)
    doc_id = f"{doc.series}-{number}"
    w = _root(kind)
    w.leaf("cbc:UBLVersionID", "2.1")
    w.leaf("cbc:CustomizationID", "2.0")
    w.leaf("cbc:ID", doc_id)
    w.leaf("cbc:IssueDate", issue_date.isoformat())
    w.leaf("cbc:IssueTime", issue_time.strftime("%H:%M:%S"))
    if kind == "Invoice":
        if doc.due_date:
            w.leaf("cbc:DueDate", doc.due_date.isoformat())
        w.leaf("cbc:InvoiceTypeCode", doc.type, listID=catalogs.OPERATION_INTERNAL_SALE)
    w.leaf(
        "cbc:Note",
        amounts.amount_in_words(totals.payable, doc.currency),
        languageLocaleID=catalogs.LEGEND_AMOUNT_IN_WORDS,
    )
    if totals.free_value:
        w.leaf("cbc:Note", catalogs.LEGEND_FREE_TEXT, languageLocaleID=catalogs.LEGEND_FREE)
    if doc.observations:
        w.leaf("cbc:Note", doc.observations)
    w.leaf("cbc:DocumentCurrencyCode", doc.currency)
    if kind != "Invoice":
        _note_references(w, doc)
    w.raw(_signature_xml(issuer))
    w.raw(_supplier_xml(issuer))
    _customer(w, doc)
    if doc.type == "01":
        with w.open("cac:PaymentTerms"):
            w.leaf("cbc:ID", "FormaPago")
            w.leaf("cbc:PaymentMeansID", "Contado")
    _header_taxes(w, totals, doc.currency)
    _monetary_total(w, "RequestedMonetaryTotal" if kind == "DebitNote" else "LegalMonetaryTotal", totals, doc.currency)
    _lines(w, kind, doc, totals, issue_date.year)
    return _built(w, totals, doc_id, file_name(issuer.ruc, doc.type, doc_id))


def _note_references(w: CanonicalWriter, doc: DocumentIn) -> None:
    assert doc.reference is not None and doc.note_reason is not None
    reasons = catalogs.CREDIT_NOTE_REASONS if doc.type == "07" else catalogs.DEBIT_NOTE_REASONS
    with w.open("cac:DiscrepancyResponse"):
        w.leaf("cbc:ReferenceID", doc.reference.id)
        w.leaf("cbc:ResponseCode", doc.note_reason)
        w.leaf("cbc:Description", doc.note_description or reasons[doc.note_reason])
    with w.open("cac:BillingReference"), w.open("cac:InvoiceDocumentReference"):
        w.leaf("cbc:ID", doc.reference.id)
        w.leaf("cbc:DocumentTypeCode", doc.reference.doc_type)


def _summary_header(
    kind: str, issuer: Issuer, summary_id: str, reference_date: date, issue_date: date, customization: str
) -> CanonicalWriter:
    w = _root(kind)
    w.leaf("cbc:UBLVersionID", "2.0")
    w.leaf("cbc:CustomizationID", customization)
    w.leaf("cbc:ID", summary_id)
    w.leaf("cbc:ReferenceDate", reference_date.isoformat())
    w.leaf("cbc:IssueDate", issue_date.isoformat())
    w.raw(_signature_xml(issuer))
    with w.open("cac:AccountingSupplierParty"):
        w.leaf("cbc:CustomerAssignedAccountID", issuer.ruc)
        w.leaf("cbc:AdditionalAccountID", "6")
        with w.open("cac:Party"), w.open("cac:PartyLegalEntity"):
            w.leaf("cbc:RegistrationName", issuer.name)
    return w


@dataclass
class SummaryItem:
    """One boleta (or its note) in a resumen diario."""

    doc_type: str
    doc_id: str
    customer_doc_type: str
    customer_doc_number: str
    condition: str  # catalog 19: 1 add, 2 modify, 3 void
    currency: str
    total: Decimal
    taxable: Decimal
    igv: Decimal
    exonerated: Decimal = Decimal("0")
    unaffected: Decimal = Decimal("0")
    reference: tuple[str, str] | None = None  # (doc_type, id) for notes


def build_summary(
    issuer: Issuer, number: int, reference_date: date, issue_date: date, items: list[SummaryItem]
) -> Built:
    summary_id = f"RC-{issue_date:%Y%m%d}-{number}"
    w = _summary_header("SummaryDocuments", issuer, summary_id, reference_date, issue_date, "1.1")
    for index, item in enumerate(items, start=1):
        with w.open("sac:SummaryDocumentsLine"):
            w.leaf("cbc:LineID", str(index))
            w.leaf("cbc:DocumentTypeCode", item.doc_type)
            w.leaf("cbc:ID", item.doc_id)
            with w.open("cac:AccountingCustomerParty"):
                w.leaf("cbc:CustomerAssignedAccountID", item.customer_doc_number)
                w.leaf("cbc:AdditionalAccountID", item.customer_doc_type)
            if item.reference:
                with w.open("cac:BillingReference"), w.open("cac:InvoiceDocumentReference"):
                    w.leaf("cbc:ID", item.reference[1])
                    w.leaf("cbc:DocumentTypeCode", item.reference[0])
            with w.open("cac:Status"):
                w.leaf("cbc:ConditionCode", item.condition)
            w.leaf("sac:TotalAmount", amounts.fmt(item.total), currencyID=item.currency)
            for amount, instruction in (
                (item.taxable, "01"),
                (item.exonerated, "02"),
                (item.unaffected, "03"),
            ):
                if amount:
                    with w.open("sac:BillingPayment"):
                        _amount(w, "PaidAmount", amount, item.currency)
                        w.leaf("cbc:InstructionID", instruction)
            with w.open("cac:TaxTotal"):
                _amount(w, "TaxAmount", item.igv, item.currency)
                with w.open("cac:TaxSubtotal"):
                    _amount(w, "TaxAmount", item.igv, item.currency)
                    with w.open("cac:TaxCategory"):
                        _tax_scheme(w, catalogs.TRIBUTOS["1000"])
    return _built(w, Totals(lines=[]), summary_id, f"{issuer.ruc}-{summary_id}")


@dataclass
class VoidItem:
    doc_type: str
    series: str
    number: int
    reason: str


def build_voided(issuer: Issuer, number: int, reference_date: date, issue_date: date, items: list[VoidItem]) -> Built:
    voided_id = f"RA-{issue_date:%Y%m%d}-{number}"
    w = _summary_header("VoidedDocuments", issuer, voided_id, reference_date, issue_date, "1.0")
    for index, item in enumerate(items, start=1):
        with w.open("sac:VoidedDocumentsLine"):
            w.leaf("cbc:LineID", str(index))
            w.leaf("cbc:DocumentTypeCode", item.doc_type)
            w.leaf("sac:DocumentSerialID", item.series)
            w.leaf("sac:DocumentNumberID", str(item.number))
            w.leaf("sac:VoidReasonDescription", item.reason)
    return _built(w, Totals(lines=[]), voided_id, f"{issuer.ruc}-{voided_id}")
