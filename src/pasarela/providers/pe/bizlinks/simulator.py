"""A mock Bizlinks OSE (billService) written from the seed and reference §2–§6, modelled on beatose.

- SOAP 1.1 at /ol-ti-itcpe/billService (WSDL at ?wsdl); content-type must be text/xml (seed: else 500).
- WS-Security UsernameToken: user = RUC + "BIZLINKS", password "TESTBIZLINKS" (seed §4.1); a Password
  without Type gets Bizlinks' BSP:R4201 fault; wrong credentials 0102 (OSE fault shape).
- sendBill: ZIP/name checks (0151–0161), signature verified against the certificate inside the XML
  (signxml, independent of our signer) → 2335, a subset of SUNAT validations, duplicates → 1033,
  answer = signed CDR ZIP `R-<name>.zip`.
- sendSummary (RC/RA) → ticket; getStatus → 98 until the ticket's delay passes, then 0/99 + CDR.
- getStatusCdr: flat or <statusCdr>-wrapped fields; 0004 + CDR, or 0011 when it does not exist.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cryptography import x509
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier

from pasarela.core import soap
from pasarela.core.simulator import SimState, sim_state_path, simulator_app
from pasarela.core.soap import SOAP_ENV, WSSE
from pasarela.core.xml import parse_xml
from pasarela.providers.pe.bizlinks import soap as billservice
from pasarela.providers.pe.ubl import codes
from pasarela.providers.pe.ubl.signing import Credential, generate_test_credential, sign

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "sac": "urn:sunat:names:specification:ubl:peru:schema:xsd:SunatAggregateComponents-1",
}
TEST_PASSWORD = "TESTBIZLINKS"
BIZLINKS_RUC = "20513567139"  # the CDR sender party; any valid-looking RUC serves [U]
BILL_NAME = re.compile(r"^(\d{11})-(01|03|07|08)-([A-Z0-9]{4})-(\d{1,8})\.zip$")
SUMMARY_NAME = re.compile(r"^(\d{11})-(RC|RA|RR)-(\d{8})-(\d{1,5})\.zip$")
SERIES_RULE = {"01": r"F[A-Z0-9]{3}", "03": r"B[A-Z0-9]{3}", "07": r"[FB][A-Z0-9]{3}", "08": r"[FB][A-Z0-9]{3}"}
ROOTS = {"01": "Invoice", "03": "Invoice", "07": "CreditNote", "08": "DebitNote"}
DOC_LABEL = {"01": "La Factura", "03": "La Boleta", "07": "La Nota de Credito", "08": "La Nota de Debito"}
MAX_AGE_DAYS = 7  # how old an IssueDate may be (SUNAT has changed this over time) [U]
LIMA = timezone(timedelta(hours=-5))
WSDL_DIR = Path(__file__).with_name("wsdl")


class Fault(Exception):
    def __init__(self, code: int | None, message: str | None = None, *, faultcode: str = "soap-env:Client"):
        super().__init__(message)
        self.code = code
        self.message = message or (codes.message(code) if code is not None else "")
        self.faultcode = faultcode


class Rejection(Exception):
    """A validation that SUNAT answers inside a CDR (2000–3999) rather than as a fault."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class _SunatVerifier(XMLVerifier):
    def check_deprecated_methods(self) -> None:  # SUNAT signs with RSA-SHA1 (reference §7)
        return None


VERIFY_CONFIG = SignatureConfiguration(
    signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256}),
    default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
)


def _fault_response(fault: Fault) -> Response:
    """OSE shape (reference §2.5): faultstring = code, detail/message = text; HTTP 500."""
    if fault.code is None:
        body = soap.fault_response(fault.faultcode, fault.message)
    else:
        body = soap.fault_response(
            fault.faultcode, f"{fault.code:04d}", detail_message=fault.message, detail_ns=billservice.SERVICE_NS
        )
    return Response(body, status_code=500, media_type="text/xml")


def _ok(operation: str, fields: list[tuple[str, str]], wrapper: str | None = None) -> Response:
    return Response(billservice.answer(operation, fields, wrapper), media_type="text/xml")


def _local(el: Any) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _find_local(parent: Any, name: str) -> str | None:
    for el in parent.iter():
        if _local(el) == name:
            return (el.text or "").strip()
    return None


def _dec(text: str | None) -> Decimal:
    try:
        return Decimal((text or "").strip())
    except InvalidOperation:
        raise Rejection(2062) from None


def _round(value: Decimal) -> Decimal:
    from decimal import ROUND_HALF_UP

    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class BillService:
    def __init__(self, state: SimState, credential: Credential):
        self.state = state
        self.credential = credential
        self.lock = threading.RLock()

    # --- authentication -------------------------------------------------------------------------
    def authenticate(self, envelope: Any) -> str:
        token = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            raise Fault(101)
        user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        password_el = token.find(f"{{{WSSE}}}Password")
        if password_el is not None and not password_el.get("Type"):
            raise Fault(None, "BSP:R4201: Any PASSWORD MUST specify a Type attribute", faultcode="wsse:InvalidSecurity")
        password = (password_el.text or "") if password_el is not None else ""
        users = self.state.data["users"]
        expected = users.get(user) or (TEST_PASSWORD if re.fullmatch(r"\d{11}BIZLINKS", user) else None)
        if expected is None or password != expected:
            raise Fault(102)
        return user[:11]

    # --- sendBill ------------------------------------------------------------------------------
    def send_bill(self, user_ruc: str, fields: dict[str, str]) -> Response:
        name = fields.get("fileName", "")
        if SUMMARY_NAME.match(name):
            raise Fault(152)
        match = BILL_NAME.match(name)
        if not match:
            raise Fault(151)
        ruc, doc_type, series, number = match.groups()
        if ruc != user_ruc:
            raise Fault(154)
        xml = self._unzip(name, fields.get("contentFile", ""))
        root = self._parse(xml)
        key = f"{ruc}-{doc_type}-{series}-{int(number)}"
        self._check_name_vs_content(root, ruc, doc_type, series, int(number))
        digest = self._verify_signature(xml)
        with self.lock:
            if key in self.state.data["documents"]:
                raise Fault(1033)
            try:
                notes = self._validate(root, doc_type, series, ruc)
                code = 0
            except Rejection as rejection:
                notes, code = [], rejection.code
            doc_id = f"{series}-{int(number)}"
            customer = root.find("cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID", NS)
            cdr = self._cdr(
                name[:-4],
                doc_id,
                doc_type,
                code,
                notes,
                digest,
                root.findtext("cbc:IssueDate", namespaces=NS) or "",
                (customer.text or "").strip() if customer is not None else "",
            )
            self.state.data["documents"][key] = {
                "status": "accepted" if code == 0 else "rejected",
                "code": code,
                "hash": digest,
                "issue_date": root.findtext("cbc:IssueDate", namespaces=NS),
                "cdr": base64.b64encode(cdr).decode(),
                "payable": _find_local(root, "PayableAmount"),
                "received_at": time.time(),
            }
            self.state.data["counters"]["sendBill"] += 1
            self.state.save()
        return _ok("sendBill", [("applicationResponse", base64.b64encode(cdr).decode())])

    def _unzip(self, zip_name: str, content_b64: str) -> bytes:
        try:
            data = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise Fault(156) from None
        if not data:
            raise Fault(155)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            entries = [i for i in archive.infolist() if not i.is_dir()]
        except zipfile.BadZipFile:
            raise Fault(156) from None
        if not entries:
            raise Fault(155)
        xmls = [i for i in entries if i.filename.lower().endswith(".xml")]
        if not xmls:
            raise Fault(157)
        entry = xmls[0]
        if not re.fullmatch(r"[\w-]+\.xml", entry.filename.rsplit("/", 1)[-1]):
            raise Fault(159)
        if entry.filename.rsplit("/", 1)[-1][:-4] != zip_name[:-4]:
            raise Fault(161)
        if entry.file_size > 10 * 1024 * 1024:
            raise Fault(250)
        return archive.read(entry)

    def _parse(self, xml: bytes) -> Any:
        try:
            return parse_xml(xml)
        except ValueError:
            raise Fault(306) from None

    def _check_name_vs_content(self, root: Any, ruc: str, doc_type: str, series: str, number: int) -> None:
        if _local(root) != ROOTS[doc_type]:
            raise Fault(1003)
        supplier = root.findtext("cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID", namespaces=NS)
        if (supplier or "").strip() != ruc:
            raise Fault(1034)
        doc_id = (root.findtext("cbc:ID", namespaces=NS) or "").strip()
        got_series, _, got_number = doc_id.partition("-")
        if got_series != series:
            raise Fault(1035)
        if not got_number.isdigit() or int(got_number) != number:
            raise Fault(1036)
        if doc_type in ("01", "03"):
            type_code = (root.findtext("cbc:InvoiceTypeCode", namespaces=NS) or "").strip()
            if type_code != doc_type:
                raise Fault(1003)

    def _verify_signature(self, xml: bytes) -> str:
        root = parse_xml(xml)
        sig = root.find(".//ds:Signature", NS)
        cert_text = root.findtext(".//ds:X509Certificate", namespaces=NS) if sig is not None else None
        if sig is None or not cert_text:
            raise Rejection_as_fault(2335)
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
            _SunatVerifier().verify(xml, x509_cert=cert, expect_config=VERIFY_CONFIG)
        except Exception:  # noqa: BLE001 - any verification failure means "altered" to SUNAT
            raise Rejection_as_fault(2335) from None
        return "".join((sig.findtext(".//ds:DigestValue", namespaces=NS) or "").split())

    # --- SUNAT validations (a meaningful subset) ------------------------------------------------
    def _validate(self, root: Any, doc_type: str, series: str, ruc: str) -> list[str]:
        notes: list[str] = []
        if (root.findtext("cbc:UBLVersionID", namespaces=NS) or "").strip() != "2.1":
            raise Rejection(2074)
        if (root.findtext("cbc:CustomizationID", namespaces=NS) or "").strip() != "2.0":
            raise Rejection(2072)
        if not re.fullmatch(SERIES_RULE[doc_type], series):
            raise Rejection(1001 if doc_type in ("01", "03") else 2345)
        self._check_date(root)
        currency = (root.findtext("cbc:DocumentCurrencyCode", namespaces=NS) or "").strip()
        if any(el.get("currencyID") not in (None, currency) for el in root.iter() if isinstance(el.tag, str)):
            raise Rejection(2071)
        customer = root.find("cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID", NS)
        scheme = customer.get("schemeID") if customer is not None else None
        if doc_type == "01" and scheme != "6":
            raise Rejection(2800)
        if doc_type in ("07", "08"):
            self._check_reference(root, doc_type, ruc)
        notes += self._check_amounts(root, doc_type, scheme)
        return notes

    def _check_date(self, root: Any) -> None:
        try:
            issued = date.fromisoformat((root.findtext("cbc:IssueDate", namespaces=NS) or "").strip())
        except ValueError:
            raise Rejection(2329) from None
        today = datetime.now(LIMA).date()
        if issued > today + timedelta(days=1) or issued < today - timedelta(days=MAX_AGE_DAYS):
            raise Rejection(2329)

    def _check_reference(self, root: Any, doc_type: str, ruc: str) -> None:
        ref = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
        ref_id = (ref.findtext("cbc:ID", namespaces=NS) or "").strip() if ref is not None else ""
        ref_type = (ref.findtext("cbc:DocumentTypeCode", namespaces=NS) or "").strip() if ref is not None else ""
        series, _, number = ref_id.partition("-")
        found = self.state.data["documents"].get(
            f"{ruc}-{ref_type}-{series}-{int(number) if number.isdigit() else number}"
        )
        if found is None or found["status"] not in ("accepted",):
            raise Rejection(2119 if doc_type == "07" else 2209)

    def _check_amounts(self, root: Any, doc_type: str, customer_scheme: str | None) -> list[str]:
        notes = []
        line_tag = {"01": "InvoiceLine", "03": "InvoiceLine", "07": "CreditNoteLine", "08": "DebitNoteLine"}[doc_type]
        lines = root.findall(f"cac:{line_tag}", NS)
        line_sum, igv_sum = Decimal("0"), Decimal("0")
        for line in lines:
            value = _dec(line.findtext("cbc:LineExtensionAmount", namespaces=NS))
            subtotals = line.findall("cac:TaxTotal/cac:TaxSubtotal", NS)
            igv_like = [
                s
                for s in subtotals
                if (s.findtext("cac:TaxCategory/cac:TaxScheme/cbc:ID", namespaces=NS) or "").strip()
                in ("1000", "1016", "9995", "9996", "9997", "9998")
            ]
            if not igv_like:
                raise Rejection(3105)
            if len(igv_like) > 1:
                raise Rejection(3106)
            sub = igv_like[0]
            scheme_id = (sub.findtext("cac:TaxCategory/cac:TaxScheme/cbc:ID", namespaces=NS) or "").strip()
            affectation = (sub.findtext("cac:TaxCategory/cbc:TaxExemptionReasonCode", namespaces=NS) or "").strip()
            if not affectation:
                raise Rejection(2371)
            if scheme_id == "1000":
                percent = _dec(sub.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS))
                base = _dec(sub.findtext("cbc:TaxableAmount", namespaces=NS))
                tax = _dec(sub.findtext("cbc:TaxAmount", namespaces=NS))
                if percent != Decimal("18") or abs(_round(base * percent / 100) - tax) > Decimal("1"):
                    raise Rejection(3103)
                igv_sum += tax
            if scheme_id != "9996":
                line_sum += value
        header_taxes = root.find("cac:TaxTotal", NS)
        if header_taxes is None:
            raise Rejection(2638)
        header_igv = Decimal("0")
        for sub in header_taxes.findall("cac:TaxSubtotal", NS):
            if (sub.findtext("cac:TaxCategory/cac:TaxScheme/cbc:ID", namespaces=NS) or "").strip() == "1000":
                header_igv = _dec(sub.findtext("cbc:TaxAmount", namespaces=NS))
        total_tax = _dec(header_taxes.findtext("cbc:TaxAmount", namespaces=NS))
        totals = root.find("cac:LegalMonetaryTotal", NS)
        if totals is None:
            totals = root.find("cac:RequestedMonetaryTotal", NS)
        if totals is None:
            raise Rejection(2044)
        header_lines = _dec(totals.findtext("cbc:LineExtensionAmount", namespaces=NS))
        payable = _dec(totals.findtext("cbc:PayableAmount", namespaces=NS))
        if abs(header_igv - igv_sum) > Decimal("1"):
            raise Rejection(3103)
        if abs(payable - (header_lines + total_tax)) > Decimal("1"):
            raise Rejection(2519)
        if abs(header_lines - line_sum) > Decimal("1"):
            notes.append(f"4309 - {codes.message(4309)}")
        if doc_type == "03" and payable > Decimal("700") and customer_scheme in (None, "0", "-"):
            raise Rejection(2396)
        return notes

    # --- CDR -------------------------------------------------------------------------------------
    def _cdr(
        self,
        name: str,
        doc_id: str,
        doc_type: str,
        code: int,
        notes: list[str],
        digest: str,
        issue_date: str,
        customer: str,
    ) -> bytes:
        now = datetime.now(LIMA)
        if code == 0:
            label = DOC_LABEL.get(doc_type, "El Comprobante")
            description = f"{label} numero {doc_id}, ha sido aceptada"
            if doc_type in ("RA", "RC"):
                label = "La Comunicacion de baja" if doc_type == "RA" else "El Resumen diario"
                description = f"{label} {doc_id}, ha sido aceptada"
        else:
            description = codes.message(code)
        ar = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
        ext = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
        nsmap = {"ar": ar, "ext": ext, "cbc": NS["cbc"], "cac": NS["cac"]}
        root = etree.Element(f"{{{ar}}}ApplicationResponse", nsmap=nsmap)
        etree.SubElement(
            etree.SubElement(etree.SubElement(root, f"{{{ext}}}UBLExtensions"), f"{{{ext}}}UBLExtension"),
            f"{{{ext}}}ExtensionContent",
        )
        cbc = f"{{{NS['cbc']}}}"
        cac = f"{{{NS['cac']}}}"

        def el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
            node = etree.SubElement(parent, tag, attrs)
            node.text = text
            return node

        el(root, cbc + "UBLVersionID", "2.0")
        el(root, cbc + "CustomizationID", "1.0")
        el(root, cbc + "ID", str(int(time.time() * 1000)))
        el(root, cbc + "IssueDate", now.date().isoformat())
        el(root, cbc + "IssueTime", now.strftime("%H:%M:%S"))
        el(root, cbc + "ResponseDate", now.date().isoformat())
        el(root, cbc + "ResponseTime", now.strftime("%H:%M:%S"))
        for note in notes:
            el(root, cbc + "Note", note)
        el(el(el(root, cac + "SenderParty"), cac + "PartyIdentification"), cbc + "ID", BIZLINKS_RUC)
        el(el(el(root, cac + "ReceiverParty"), cac + "PartyIdentification"), cbc + "ID", name.split("-", 1)[0])
        response = el(root, cac + "DocumentResponse")
        inner = el(response, cac + "Response")
        el(inner, cbc + "ReferenceID", doc_id)
        el(inner, cbc + "ResponseCode", str(code) if code == 0 else f"{code:04d}", listAgencyName="PE:SUNAT")
        el(inner, cbc + "Description", description)
        ref = el(response, cac + "DocumentReference")
        el(ref, cbc + "ID", doc_id)
        if issue_date:
            el(ref, cbc + "IssueDate", issue_date)
        el(ref, cbc + "DocumentTypeCode", doc_type)
        if digest:
            el(el(el(ref, cac + "Attachment"), cac + "ExternalReference"), cbc + "DocumentHash", digest)
        if customer:
            el(el(el(response, cac + "RecipientParty"), cac + "PartyIdentification"), cbc + "ID", customer)
        xml, _ = sign(root, self.credential)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("dummy/", b"")
            archive.writestr(f"R-{name}.xml", xml)
        return buffer.getvalue()

    # --- summaries -----------------------------------------------------------------------------
    def send_summary(self, user_ruc: str, fields: dict[str, str]) -> Response:
        name = fields.get("fileName", "")
        match = SUMMARY_NAME.match(name)
        if not match:
            raise Fault(151)
        ruc, kind, ymd, number = match.groups()
        if ruc != user_ruc:
            raise Fault(154)
        xml = self._unzip(name, fields.get("contentFile", ""))
        root = self._parse(xml)
        if (root.findtext("cbc:ID", namespaces=NS) or "").strip() != f"{kind}-{ymd}-{number}":
            raise Fault(2220)
        digest = self._verify_signature(xml)
        with self.lock:
            if name in self.state.data["summary_files"]:
                raise Fault(2324 if kind == "RA" else 2282)
            ticket = str(int(time.time() * 1000) + len(self.state.data["tickets"]))
            self.state.data["tickets"][ticket] = {
                "name": name[:-4],
                "kind": kind,
                "ruc": ruc,
                "ready_at": time.time() + float(self.state.data["ticket_delay_seconds"]),
                "xml": base64.b64encode(xml).decode(),
                "digest": digest,
                "done": None,
            }
            self.state.data["summary_files"].append(name)
            self.state.data["counters"]["sendSummary"] += 1
            self.state.save()
        return _ok("sendSummary", [("ticket", ticket)])

    def get_status(self, fields: dict[str, str]) -> Response:
        ticket_id = fields.get("ticket", "")
        with self.lock:
            ticket = self.state.data["tickets"].get(ticket_id)
            if ticket is None:
                raise Fault(127)
            self.state.data["counters"]["getStatus"] += 1
            if ticket["done"] is None:
                if time.time() < ticket["ready_at"]:
                    return _ok("getStatus", [("statusCode", "98")], "status")
                ticket["done"] = self._process_summary(ticket)
            self.state.save()
            status = "0" if ticket["done"]["code"] == 0 else "99"
            return _ok("getStatus", [("content", str(ticket["done"]["cdr"])), ("statusCode", status)], "status")

    def _process_summary(self, ticket: dict[str, Any]) -> dict[str, Any]:
        root = parse_xml(base64.b64decode(ticket["xml"]))
        ruc = ticket["ruc"]
        docs = self.state.data["documents"]
        changes: list[tuple[str, str]] = []
        code = 0
        if ticket["kind"] == "RA":
            for line in root.findall("sac:VoidedDocumentsLine", NS):
                key = (
                    f"{ruc}-{line.findtext('cbc:DocumentTypeCode', namespaces=NS)}-"
                    f"{line.findtext('sac:DocumentSerialID', namespaces=NS)}-"
                    f"{int(line.findtext('sac:DocumentNumberID', namespaces=NS) or 0)}"
                )
                found = docs.get(key)
                if found is None:
                    code = 2105
                    break
                if found["status"] != "accepted":
                    code = 2398 if found["status"] == "rejected" else 2323
                    break
                changes.append((key, "voided"))
        else:
            for line in root.findall("sac:SummaryDocumentsLine", NS):
                doc_type = line.findtext("cbc:DocumentTypeCode", namespaces=NS) or ""
                series, _, number = (line.findtext("cbc:ID", namespaces=NS) or "").partition("-")
                key = f"{ruc}-{doc_type}-{series}-{int(number) if number.isdigit() else 0}"
                condition = line.findtext("cac:Status/cbc:ConditionCode", namespaces=NS)
                if condition == "3":
                    if key not in docs or docs[key]["status"] != "accepted":
                        code = 2105
                        break
                    changes.append((key, "voided"))
                elif key not in docs:
                    changes.append((key, "accepted"))
        if code == 0:
            for key, status in changes:
                docs.setdefault(key, {"code": 0, "hash": "", "cdr": "", "issue_date": ""})["status"] = status
        summary_id = (root.findtext("cbc:ID", namespaces=NS) or "").strip()
        cdr = self._cdr(ticket["name"], summary_id, ticket["kind"], code, [], ticket["digest"], "", "")
        return {"code": code, "cdr": base64.b64encode(cdr).decode()}

    def get_status_cdr(self, fields: dict[str, str]) -> Response:
        try:
            number = int(fields.get("numeroComprobante", ""))
        except ValueError:
            raise Fault(1036) from None
        key = (f"{fields.get('rucComprobante', '')}-{fields.get('tipoComprobante', '')}-"
               f"{fields.get('serieComprobante', '')}-{number}")
        with self.lock:
            found = self.state.data["documents"].get(key)
            self.state.data["counters"]["getStatusCdr"] += 1
        if found is None or not found.get("cdr"):
            missing = [("statusCode", "0011"), ("statusMessage", "El comprobante de pago electrónico no existe")]
            return _ok("getStatusCdr", missing, "statusCdr")
        exists = [("content", str(found["cdr"])), ("statusCode", "0004"), ("statusMessage", "La constancia existe")]
        return _ok("getStatusCdr", exists, "statusCdr")


def Rejection_as_fault(code: int) -> Fault:  # noqa: N802 - reads as a constructor at the raise site
    """Signature problems are answered as a fault before any CDR exists (2335 "alterado")."""
    return Fault(code)


def _initial() -> dict[str, Any]:
    return {
        "users": {},
        "documents": {},
        "tickets": {},
        "summary_files": [],
        "ticket_delay_seconds": 1.0,
        "counters": {"sendBill": 0, "sendSummary": 0, "getStatus": 0, "getStatusCdr": 0},
    }


def create_app(settings: Any) -> Any:
    state = SimState(sim_state_path(settings, "bizlinks"), _initial)
    key_path = (Path(settings.home) / "sim" / "bizlinks-cdr-signer.pem") if settings is not None else None
    if key_path is not None and key_path.exists():
        from pasarela.providers.pe.ubl.signing import load_credential

        credential = load_credential(key_path, None)
    else:
        credential = generate_test_credential(
            key_path or Path("/tmp") / f"bizlinks-sim-{time.time_ns()}.pem", BIZLINKS_RUC, "BIZLINKS OSE SIMULADOR"
        )
    service = BillService(state, credential)

    def inspect() -> dict[str, Any]:
        with service.lock:
            docs = state.data["documents"]
            return {
                "counters": dict(state.data["counters"]),
                "documents": {
                    k: {"status": v["status"], "code": v["code"], "hash": v.get("hash", "")} for k, v in docs.items()
                },
                "tickets": {
                    k: {"name": v["name"], "done": (v["done"] or {}).get("code")}
                    for k, v in state.data["tickets"].items()
                },
                "ticket_delay_seconds": state.data["ticket_delay_seconds"],
            }

    def reset() -> None:
        with service.lock:
            state.data.clear()
            state.data.update(_initial())
            state.save()

    app, _faults = simulator_app("bizlinks", inspect, title="Bizlinks OSE simulator (billService)", reset=reset)

    @app.post("/_settings")
    async def settings_(request: Request) -> dict[str, Any]:
        body = await request.json()
        with service.lock:
            if "ticket_delay_seconds" in body:
                state.data["ticket_delay_seconds"] = float(body["ticket_delay_seconds"])
            for user, password in (body.get("users") or {}).items():
                state.data["users"][str(user)] = str(password)
            state.save()
        return {"ticket_delay_seconds": state.data["ticket_delay_seconds"], "users": sorted(state.data["users"])}

    @app.get("/ol-ti-itcpe/billService")
    def wsdl(request: Request) -> Response:
        name = request.query_params.get("ns1.wsdl") is not None and "billService.ns1.wsdl"
        target = WSDL_DIR / (
            name or ("billService.xsd2.xsd" if "xsd2.xsd" in request.url.query else "billService.wsdl")
        )
        text = target.read_text(encoding="utf-8")
        text = text.replace(
            "https://e-beta.sunat.gob.pe:443/ol-ti-itcpfegem-beta/billService", str(request.url).split("?")[0]
        )
        return Response(text, media_type="text/xml")

    @app.post("/ol-ti-itcpe/billService")
    async def bill_service(request: Request) -> Response:
        if not request.headers.get("content-type", "").lower().startswith("text/xml"):
            return PlainTextResponse("Error 500: content-type debe ser text/xml", status_code=500)
        body = await request.body()
        try:
            envelope = parse_xml(body)
        except ValueError:
            return _fault_response(Fault(306))
        payload = envelope.find(f"{{{SOAP_ENV}}}Body")
        if payload is None or not len(payload):
            return _fault_response(Fault(300))
        operation = payload[0]
        fields = {
            _local(el): (el.text or "").strip() for el in operation.iter() if el is not operation and len(el) == 0
        }
        try:
            user_ruc = service.authenticate(envelope)
            handler = {"sendBill": service.send_bill, "sendSummary": service.send_summary}.get(_local(operation))
            if handler is not None:
                return handler(user_ruc, fields)
            if _local(operation) == "getStatus":
                return service.get_status(fields)
            if _local(operation) == "getStatusCdr":
                return service.get_status_cdr(fields)
            return _fault_response(
                Fault(None, f"operación desconocida {_local(operation)}", faultcode="soap-env:Client")
            )
        except Fault as fault:
            return _fault_response(fault)

    return app
