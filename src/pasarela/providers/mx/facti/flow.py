"""Ledger glue for Facti: payment requests as documents, in-doubt resolution through
company_payments, the IPN receiver and the optional ERP forwarding."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pasarela.core import strict_json
from pasarela.core.errors import Conflict, InvalidInput, MaybeSent, NotFound, ProviderError, SurelyNotSent
from pasarela.core.outcomes import CallResult, Outcome, State
from pasarela.flow import RetryJob, Submitter, follow_up, record_issued, run_submission
from pasarela.ledger import service
from pasarela.ledger.models import Document, Event, Job
from pasarela.operations import resolve_with_reference
from pasarela.providers.mx.facti import mapping
from pasarela.providers.mx.facti.client import FactiClient, Payment, PaymentRequestCreated
from pasarela.providers.mx.facti.config import FactiSettings, facti_settings
from pasarela.runtime import Runtime

PROVIDER = "facti"
COUNTRY = "MX"
KIND = "payment_request"
UNMATCHED_KIND = "unmatched_payment"
SUBMIT_JOB = "facti.submit"
FORWARD_JOB = "facti.erp_forward"
# The follow-up of an issue: the client's STP CLABE, and "paid" if Facti already has it so.
AFTER_ISSUE_JOB = "facti.after_issue"
IPN_SOURCE = "facti-ipn"
PAID = "paid"
DELETED = "deleted"
IN_DOUBT_LOOKUP_DELAY = 1.0  # seconds before an in-doubt request is looked up at Facti


def settings_of(rt: Runtime) -> FactiSettings:
    return facti_settings(rt.settings)


def client_for(rt: Runtime, document_id: int | None = None) -> FactiClient:
    conf = settings_of(rt)
    http = rt.provider_http(PROVIDER, document_id=document_id, timeout=conf.timeout, extra_secrets=conf.secrets)
    return FactiClient(http, conf.base_url, conf.client_id, conf.api_key)


# ---------------------------------------------------------------- creating payment requests


def validate(rt: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    conf = settings_of(rt)
    return mapping.build_new_request(data, default_from_rfc=conf.from_rfc, strict_rfc=conf.strict_rfc_check_digit)


def create_payment_request(
    rt: Runtime, data: dict[str, Any], *, idempotency_key: str | None = None, source: str = "api"
) -> tuple[Document, bool]:
    """Validate, then write the document and its submit job in one transaction. A repeated key
    returns the existing document. Invalid input is recorded as a rejected event and re-raised."""
    try:
        params = validate(rt, data)
    except InvalidInput as exc:
        with rt.db.transaction() as session:
            service.record_event(
                session,
                source=f"facti-{source}",
                kind=KIND,
                status="rejected",
                reason=exc.message,
                body=json.dumps(data, ensure_ascii=False, default=str).encode(),
            )
        raise
    key = mapping.idempotency_key(params, idempotency_key or data.get("idempotency_key"))
    with rt.db.transaction() as session:
        doc, created = service.create_document(
            session,
            idempotency_key=key,
            country=COUNTRY,
            provider=PROVIDER,
            kind=KIND,
            data=params,
            source_ref=mapping.source_ref(params),
            job_kind=SUBMIT_JOB,
        )
        session.expunge(doc)
    return doc, created


def request_params(doc: Document) -> dict[str, Any]:
    return dict(doc.effective_data())


def submit(rt: Runtime, doc: Document) -> CallResult:
    params = request_params(doc)
    created = client_for(rt, doc.id).new_request(params)
    return _issued_result(created)


def _issued_result(created: PaymentRequestCreated) -> CallResult:
    references = [
        {**{k: v for k, v in vars(r).items() if v is not None}, "clabe_valid": r.clabe_valid}
        for r in created.references
    ]
    stp = next((r for r in created.references if r.payment_type == "stp"), None)
    bad_clabes = [r.stp_cuenta_clabe for r in created.references if r.clabe_valid is False]
    reason = f"solicitud de pago creada en Facti (id {created.request_id})"
    if bad_clabes:
        reason += f"; ADVERTENCIA: CLABE con dígito verificador inválido: {', '.join(map(str, bad_clabes))}"
    return CallResult(
        Outcome.ISSUED,
        reason=reason,
        provider_ref=str(created.request_id),
        details={
            "request_id": created.request_id,
            "total_amount": str(created.total_amount),
            "limit_payment_date": created.limit_payment_date,
            "send_to": created.send_to,
            "references": references,
            "reference_errors": created.reference_errors,
            "stp_reference": stp.reference if stp else None,
            "clabe": stp.stp_cuenta_clabe if stp else None,
        },
    )


# ---------------------------------------------------------------- in-doubt resolution


def matches(payment: Payment, params: dict[str, Any]) -> bool:
    """Is this Facti payment the request we may have sent? Same folio, serie, amount, e-mail, RFC."""
    return (
        payment.folio == str(params["folio"])
        and payment.serie == str(params.get("serie") or "")
        and payment.total_amount == Decimal(params["total_amount"])
        and payment.to_email.lower() == str(params["to_email"]).lower()
        and (not params.get("to_rfc") or payment.to_rfc.upper() == params["to_rfc"])
    )


def lookup(rt: Runtime, doc: Document) -> CallResult | None:
    """Search company_payments for the folio. None: Facti never got it, safe to send."""
    params = request_params(doc)
    conf = settings_of(rt)
    try:
        candidates = [p for p in client_for(rt, doc.id).iter_company_payments(conf.company_id) if matches(p, params)]
    except (MaybeSent, SurelyNotSent) as exc:
        return CallResult(Outcome.RETRY, reason=f"búsqueda en company_payments falló: {exc.message}")
    if not candidates:
        return None
    with rt.db.transaction() as session:
        claimed = set(
            session.scalars(
                select(Document.provider_ref).where(
                    Document.provider == PROVIDER,
                    Document.kind == KIND,
                    Document.id != doc.id,
                    Document.provider_ref.in_([str(p.id) for p in candidates]),
                )
            )
        )
    free = [p for p in candidates if str(p.id) not in claimed]
    if not free:
        return None
    found = free[0]
    return CallResult(
        Outcome.ISSUED,
        reason=f"encontrada en Facti por folio tras respuesta incierta (id {found.id})",
        provider_ref=str(found.id),
        details={
            "request_id": found.id,
            "total_amount": str(found.total_amount),
            "found_by_lookup": True,
            "limit_payment_date": found.limit_payment_date,
            "facti_status": found.status,
            "amount_received": str(found.amount_received) if found.amount_received is not None else None,
            "confirmed_from": found.confirmed_from or None,
            "confirmed_date": found.confirmed_date or None,
        },
    )


def on_issued(session: Session, doc: Document) -> None:
    """Outbox: what follows an issue is a job written with it."""
    follow_up(session, doc, AFTER_ISSUE_JOB)


def after_issue_job(rt: Runtime, job: Job) -> None:
    assert job.document_id is not None
    complete_references(rt, job.document_id)


def complete_references(rt: Runtime, doc_id: int) -> None:
    """After a lookup the references are unknown: fetch the client's STP CLABE; settle if already paid.
    Idempotent: a CLABE already known is not asked again, and paid is only set once."""
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        result = dict(doc.result or {})
        params = request_params(doc)
    if not result.get("clabe"):
        try:
            email = str(params["to_email"]).split(";")[0]
            accounts = client_for(rt, doc_id).stp_client_clabe(settings_of(rt).company_id, email)
            if accounts.accounts:
                result["clabe"] = accounts.accounts[0].stp_cuenta_clabe
                result["clabe_valid"] = accounts.accounts[0].clabe_valid
        except ProviderError:
            pass  # informative only; `show --remote` can fetch it later
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.result = {**(doc.result or {}), **result}
        if doc.state == State.ISSUED and (result.get("facti_status") == 1 or params.get("status") == 1):
            service.transition(session, doc, PAID, "Facti ya lo tiene como pagado")


SUBMITTER = Submitter(submit=submit, lookup=lookup, on_issued=on_issued)


def handle_submit(rt: Runtime, job: Job) -> None:
    run_submission(rt, job, SUBMITTER)
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        in_doubt = doc is not None and doc.state == State.IN_DOUBT
    if in_doubt:
        # Never resend blindly: run again, and the flow searches company_payments first.
        raise RetryJob("respuesta incierta: se buscará el folio en company_payments", IN_DOUBT_LOOKUP_DELAY)


def validate_overrides(rt: Runtime, doc: Document) -> str:
    try:
        doc.data = validate(rt, doc.effective_data())
        doc.overrides = {}
    except InvalidInput as exc:
        return exc.message
    return ""


def resolve(rt: Runtime, doc_id: int, request: dict[str, Any]) -> str:
    """`documents resolve`: action "lookup" searches Facti now; otherwise the generic decision."""
    if request.get("action") == "lookup":
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            session.expunge(doc)
        found = lookup(rt, doc)
        if found is None:
            return "Facti no tiene esa solicitud; usa action=reissue para enviarla"
        if found.outcome != Outcome.ISSUED:
            return found.reason
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            doc.provider_ref = found.provider_ref
            doc.result = {**(doc.result or {}), **{k: v for k, v in found.details.items() if v is not None}}
            service.transition(session, doc, State.ISSUED, found.reason, "operator")
            record_issued(session, doc, SUBMITTER)
        return found.reason
    return resolve_with_reference(rt, doc_id, request, ref_label="request_id")


# ---------------------------------------------------------------- IPN


def ipn_password_ok(given: str, configured_password: str) -> bool:
    expected = hashlib.md5(configured_password.encode()).hexdigest()
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def _stored_ipn(fields: dict[str, str]) -> bytes:
    """What we keep of an IPN: everything except the password hash (it is the shared secret)."""
    kept = {k: v for k, v in fields.items() if k != "ipn_password"}
    return json.dumps(kept, ensure_ascii=False).encode()


def receive_ipn(rt: Runtime, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Returns (HTTP status, body). Event and state change are written in one transaction."""
    conf = settings_of(rt)
    body = _stored_ipn(fields)
    if not ipn_password_ok(str(fields.get("ipn_password") or ""), conf.ipn_password):
        _record_ipn(rt, "rejected", "ipn_password incorrecto", body)
        return 401, {"error": "ipn_password incorrecto"}
    if str(fields.get("ipn_type") or "").strip() != "1":
        _record_ipn(rt, "ignored", f"ipn_type {fields.get('ipn_type')!r} desconocido", body)
        return 200, {"status": "ignored"}
    try:
        data = strict_json.loads(str(fields.get("data") or ""))
        payment_id = str(int(data["id"]))
    except (ValueError, KeyError, TypeError):
        _record_ipn(rt, "rejected", "data no es un JSON con id de pago", body)
        return 400, {"error": "data debe ser JSON con el id del pago"}
    return 200, _apply_paid(rt, payment_id, data, body, conf)


def _record_ipn(rt: Runtime, status: str, reason: str, body: bytes, source_ref: str | None = None) -> None:
    with rt.db.transaction() as session:
        service.record_event(
            session,
            source=IPN_SOURCE,
            kind="ipn",
            status=status,
            reason=reason,
            body=body,
            source_ref=source_ref,
        )


def _apply_paid(rt: Runtime, payment_id: str, data: dict[str, Any], body: bytes, conf: FactiSettings) -> dict[str, Any]:
    ref = f"facti:{payment_id}"
    with rt.db.transaction() as session:
        doc = session.scalar(
            select(Document)
            .where(Document.provider == PROVIDER, Document.kind == KIND, Document.provider_ref == payment_id)
            .with_for_update()
        )
        if doc is None:
            return _flag_unknown(session, payment_id, data, body, ref)
        if doc.state == PAID:
            service.record_event(
                session,
                source=IPN_SOURCE,
                kind="ipn",
                status="duplicate",
                source_ref=ref,
                reason="pago ya registrado",
                body=body,
                document_id=doc.id,
            )
            return {"status": "duplicate", "document_id": doc.id}
        paid = {
            k: data.get(k)
            for k in (
                "amount_received",
                "confirmed_from",
                "confirmed_date",
                "payment_way_id",
                "payment_way_alias",
            )
        }
        doc.result = {**(doc.result or {}), **paid, "facti_status": 1}
        service.transition(
            session,
            doc,
            PAID,
            f"IPN: pagado por {data.get('confirmed_from') or '?'} ({data.get('amount_received')})",
            "facti",
        )
        event = service.record_event(
            session,
            source=IPN_SOURCE,
            kind="ipn",
            status="accepted",
            source_ref=ref,
            reason="pago conciliado",
            body=body,
            document_id=doc.id,
        )
        if conf.erp_forward_url:
            service.enqueue(
                session,
                FORWARD_JOB,
                document_id=doc.id,
                max_attempts=conf.erp_forward_attempts,
                payload={"event_id": event.id},
            )
        return {"status": "accepted", "document_id": doc.id}


def _flag_unknown(session: Any, payment_id: str, data: dict[str, Any], body: bytes, ref: str) -> dict[str, Any]:
    flagged, created = service.create_document(
        session,
        idempotency_key=f"facti:ipn-sin-solicitud:{payment_id}",
        country=COUNTRY,
        provider=PROVIDER,
        kind=UNMATCHED_KIND,
        data=data,
        source_ref=ref,
        state=State.NEEDS_ATTENTION,
        reason=f"IPN de pago {payment_id} sin solicitud en el ledger: revisar en Facti",
    )
    if created:
        flagged.provider_ref = payment_id
    service.record_event(
        session,
        source=IPN_SOURCE,
        kind="ipn",
        status="flagged" if created else "duplicate",
        source_ref=ref,
        reason="pago desconocido",
        body=body,
        document_id=flagged.id,
    )
    return {"status": "flagged" if created else "duplicate", "document_id": flagged.id}


# ---------------------------------------------------------------- ERP forwarding


def erp_signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<body>`, hex; sent as `X-Pasarela-Signature: sha256=<hex>`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def handle_erp_forward(rt: Runtime, job: Job) -> None:
    conf = settings_of(rt)
    if not conf.erp_forward_url:
        return
    with rt.db.transaction() as session:
        event = session.get(Event, int(job.payload["event_id"]))
        doc = session.get(Document, job.document_id) if job.document_id else None
        if event is None or doc is None:
            return
        payload = {
            "type": "facti.payment.paid",
            "event_id": event.id,
            "document_id": doc.id,
            "idempotency_key": doc.idempotency_key,
            "request_id": doc.provider_ref,
            "state": doc.state,
            "payment": json.loads(json.loads(event.body or b"{}").get("data") or "{}"),
        }
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Pasarela-Timestamp": timestamp,
        "X-Pasarela-Event": "facti.payment.paid",
        "X-Pasarela-Delivery": str(job.id),
    }
    if conf.erp_forward_secret:
        headers["X-Pasarela-Signature"] = "sha256=" + erp_signature(conf.erp_forward_secret, timestamp, body)
    http = rt.provider_http("facti-erp", document_id=doc.id, extra_secrets=conf.secrets)
    try:
        response = http.request("erp_forward", "POST", conf.erp_forward_url, content=body, headers=headers)
    except ProviderError as exc:
        raise RetryJob(exc.message) from None
    finally:
        http.close()
    if not 200 <= response.status_code < 300:
        raise RetryJob(f"ERP respondió HTTP {response.status_code}")


# ---------------------------------------------------------------- operator actions


def _issued_doc(rt: Runtime, doc_id: int) -> Document:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is None or doc.provider != PROVIDER:
            raise NotFound(f"solicitud de pago {doc_id} no existe")
        session.expunge(doc)
    if not doc.provider_ref or doc.kind != KIND:
        raise Conflict(f"solicitud {doc_id} está en estado {doc.state}: aún no existe en Facti")
    return doc


def delete_payment(rt: Runtime, doc_id: int) -> dict[str, Any]:
    doc = _issued_doc(rt, doc_id)
    if doc.state == PAID:
        raise Conflict(f"solicitud {doc_id} ya está pagada; Facti solo elimina pendientes")
    client_for(rt, doc_id).delete(settings_of(rt).company_id, int(doc.provider_ref or 0))
    with rt.db.transaction() as session:
        current = session.get(Document, doc_id)
        assert current is not None
        service.transition(session, current, DELETED, f"eliminada en Facti (id {doc.provider_ref})", "operator")
    return {"document_id": doc_id, "state": DELETED}


def mark_paid(rt: Runtime, doc_id: int) -> dict[str, Any]:
    """Ask Facti to mark it paid; Facti then sends the IPN, which moves the document to `paid`."""
    doc = _issued_doc(rt, doc_id)
    details = client_for(rt, doc_id).mark_paid(int(doc.provider_ref or 0))
    return {
        "document_id": doc_id,
        "request_id": details.id,
        "facti_status": details.status,
        "message": "Facti lo marcó pagado; el IPN actualizará el estado",
    }


def sync_paid(rt: Runtime) -> dict[str, int]:
    """Sweep company_payments?status=1 for IPNs that never arrived (Facti's retry policy is unknown)."""
    conf = settings_of(rt)
    seen = updated = 0
    for payment in client_for(rt).iter_company_payments(conf.company_id, status=1):
        seen += 1
        with rt.db.transaction() as session:
            doc = session.scalar(
                select(Document)
                .where(
                    Document.provider == PROVIDER,
                    Document.kind == KIND,
                    Document.provider_ref == str(payment.id),
                )
                .with_for_update()
            )
            if doc is None or doc.state != State.ISSUED:
                continue
            doc.result = {
                **(doc.result or {}),
                "facti_status": 1,
                "confirmed_from": payment.confirmed_from,
                "confirmed_date": payment.confirmed_date,
                "amount_received": str(payment.amount_received) if payment.amount_received else None,
            }
            service.transition(session, doc, PAID, "company_payments: pagado (IPN no recibido)", "sync")
            updated += 1
    return {"seen": seen, "updated": updated}
