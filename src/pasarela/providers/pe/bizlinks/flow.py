"""Ledger glue for Bizlinks: send, classify the CDR, resolve in-doubt documents with getStatusCdr,
adopt 1033 "registrado previamente", poll summary tickets (reference §11.2–§11.4)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from pasarela.core.errors import Conflict, InvalidInput, NotFound, ProviderError
from pasarela.core.outcomes import CallResult, Outcome, State
from pasarela.flow import RetryJob, Submitter, apply_result, follow_up, run_submission
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job
from pasarela.providers.pe.bizlinks import mapping
from pasarela.providers.pe.bizlinks.client import BizlinksClient
from pasarela.providers.pe.bizlinks.config import PeConfig, pe_config
from pasarela.providers.pe.bizlinks.errors import BizlinksFault
from pasarela.providers.pe.bizlinks.ledger import DELIVER_JOB, PROVIDER, SUMMARY_KINDS
from pasarela.providers.pe.ubl import codes
from pasarela.providers.pe.ubl.cdr import Cdr
from pasarela.runtime import Runtime

log = logging.getLogger("pasarela.pe")
VOIDED = "voided"
TICKET_UNKNOWN_TRIES = 3


def client_for(rt: Runtime, config: PeConfig, document_id: int | None) -> BizlinksClient:
    http = rt.provider_http(PROVIDER, document_id=document_id, extra_secrets=[config.password])
    return BizlinksClient(http, config.url, config.username, config.password)


def _store(
    rt: Runtime, doc_id: int, artifacts: list[tuple[str, bytes, str]], result: dict[str, Any] | None = None
) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        for name, content, content_type in artifacts:
            service.store_artifact(session, rt.artifacts_dir, doc, name, content, content_type)
        if result:
            doc.result = {**(doc.result or {}), **result}


def result_from_cdr(rt: Runtime, doc: Document, cdr: Cdr, digest: str, *, adopted: bool = False) -> CallResult:
    """What a CDR means for the document (reference §4 code ranges)."""
    expected = str(doc.data["doc_id"])
    if (
        cdr.reference_id
        and cdr.reference_id.split("-")[0] == expected.split("-")[0]
        and cdr.reference_id.split("-")[-1].lstrip("0") != expected.split("-")[-1].lstrip("0")
    ):
        return CallResult(Outcome.NEEDS_ATTENTION, f"el CDR recibido es de {cdr.reference_id}, no de {expected}")
    if adopted and cdr.document_hash and digest and cdr.document_hash != digest:
        return CallResult(
            Outcome.NEEDS_ATTENTION,
            f"1033 - {codes.message(1033)}: el CDR registrado tiene otro hash ({cdr.document_hash})",
            details={"cdr_hash": cdr.document_hash},
        )
    _store(rt, doc.id, [(f"R-{_file_base(doc)}.xml", cdr.xml, "application/xml")])
    details = {**cdr.as_dict(), "adopted_cdr": adopted or None}
    cls = cdr.code_class
    if cls == codes.CodeClass.ACCEPTED:
        return CallResult(Outcome.ISSUED, cdr.description or "aceptado", provider_ref=expected, details=details)
    if cls == codes.CodeClass.OBSERVED:
        return CallResult(
            Outcome.ISSUED,
            f"aceptado con observaciones: {'; '.join(cdr.notes) or cdr.description}",
            provider_ref=expected,
            details=details,
        )
    message = f"{cdr.code:04d} - {cdr.description or codes.message(cdr.code)}"
    if cls == codes.CodeClass.REJECTED:
        return CallResult(
            Outcome.REJECTED,
            f"rechazado por SUNAT: {message}. El número {expected} queda usado; emite un nuevo comprobante",
            details=details,
        )
    return CallResult(Outcome.NEEDS_ATTENTION, f"{message}: corrige y reenvía con el mismo número", details=details)


def _file_base(doc: Document) -> str:
    data = doc.data
    if doc.kind in SUMMARY_KINDS:
        return f"{data['ruc']}-{data['doc_id']}"
    return f"{data['ruc']}-{data['input']['type']}-{data['doc_id']}"


def submit(rt: Runtime, doc: Document) -> CallResult:
    config = pe_config(rt.settings)
    signed = mapping.signed_document(config, doc.effective_data())
    result: dict[str, Any] = {"hash": signed.digest, "file_name": signed.name}
    if signed.totals is not None:
        result["totals"] = mapping.totals_dict(signed.totals)
    _store(
        rt,
        doc.id,
        [(f"{signed.name}.xml", signed.xml, "application/xml"), (f"{signed.name}.zip", signed.zip, "application/zip")],
        result,
    )
    client = client_for(rt, config, doc.id)
    try:
        cdr = client.send_bill(f"{signed.name}.zip", signed.zip)
    except BizlinksFault as fault:
        if fault.already_registered:
            found = lookup(rt, doc)
            if found is None:
                return CallResult(Outcome.NEEDS_ATTENTION, f"{fault.message}, pero getStatusCdr no encuentra el CDR")
            return found
        if fault.sunat_code is not None:
            fault.message = (
                f"{fault.message}"
                if " - " in fault.message
                else f"{fault.sunat_code:04d} - {codes.message(fault.sunat_code)}"
            )
        raise
    finally:
        client.http.close()
    return result_from_cdr(rt, doc, cdr, signed.digest)


def lookup(rt: Runtime, doc: Document) -> CallResult | None:
    """getStatusCdr: the CDR if the OSE has the document, None if it never got it."""
    config = pe_config(rt.settings)
    data = doc.effective_data()
    series, number = str(data["doc_id"]).split("-")
    client = client_for(rt, config, doc.id)
    try:
        try:
            status = client.get_status_cdr(config.ruc, data["input"]["type"], series, int(number))
        except BizlinksFault as fault:
            if fault.sunat_code is not None:
                raise
            # Some Bizlinks deployments want the fields wrapped in <statusCdr> [U]: try that shape once.
            status = client.get_status_cdr(config.ruc, data["input"]["type"], series, int(number), wrapped=True)
    except ProviderError as exc:
        return CallResult(Outcome.RETRY, f"getStatusCdr: {exc.message}", retry_after=float(config["poll_seconds"]))
    finally:
        client.http.close()
    if status.cdr is not None:
        digest = mapping.signed_document(config, data).digest
        return result_from_cdr(rt, doc, status.cdr, digest, adopted=True)
    if status.code in codes.STATUS_CDR_NOT_FOUND:
        return None
    return CallResult(
        Outcome.RETRY, f"getStatusCdr {status.code}: {status.message}", retry_after=float(config["poll_seconds"])
    )


def on_issued(session: Session, doc: Document) -> None:
    """Outbox: the representación impresa and the customer's e-mail are a job written with the issue."""
    follow_up(session, doc, DELIVER_JOB, max_attempts=12)


def deliver_job(rt: Runtime, job: Job) -> None:
    from pasarela.providers.pe.bizlinks import delivery

    assert job.document_id is not None
    delivery.after_issue(rt, job.document_id)


SUBMITTER = Submitter(submit=submit, lookup=lookup, on_issued=on_issued)


def send_job(rt: Runtime, job: Job) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        kind = doc.kind if doc is not None else ""
    if kind in SUMMARY_KINDS:
        summary_job(rt, job)
        return
    run_submission(rt, job, SUBMITTER)
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        in_doubt = doc is not None and doc.state == State.IN_DOUBT
    if in_doubt:
        raise RetryJob(
            "en duda: se consultará getStatusCdr antes de reenviar", float(pe_config(rt.settings)["poll_seconds"])
        )


# --- summaries (RC) and voids (RA) --------------------------------------------------------------


def summary_job(rt: Runtime, job: Job) -> None:
    config = pe_config(rt.settings)
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        assert doc is not None
        if doc.state in (State.ISSUED, State.REJECTED, State.NEEDS_ATTENTION, State.SKIPPED, State.FAILED):
            return
        ticket = (doc.result or {}).get("ticket")
        if not ticket and doc.state in (State.SUBMITTING, State.IN_DOUBT):
            service.transition(
                session,
                doc,
                State.IN_DOUBT,
                "envío del resumen interrumpido sin ticket: revisa en Bizlinks y usa `documents resolve`",
            )
            return
        if not ticket:
            service.transition(session, doc, State.SUBMITTING, f"enviando {doc.data['doc_id']}")
        session.expunge(doc)
    if not ticket:
        _send_summary(rt, config, doc)
    _poll_ticket(rt, config, doc, job)


def _send_summary(rt: Runtime, config: PeConfig, doc: Document) -> None:
    kind = doc.kind.removeprefix("pe-")
    signed = mapping.signed_summary(config, kind, doc.data)
    _store(
        rt,
        doc.id,
        [(f"{signed.name}.xml", signed.xml, "application/xml"), (f"{signed.name}.zip", signed.zip, "application/zip")],
        {"hash": signed.digest},
    )
    client = client_for(rt, config, doc.id)
    try:
        ticket = client.send_summary(f"{signed.name}.zip", signed.zip)
    except ProviderError as exc:
        apply_result(rt, doc.id, exc.to_result())  # RETRY raises RetryJob; the rest settles it
        raise RetryJob("resumen no enviado") if exc.outcome == Outcome.RETRY else _Settled() from None
    finally:
        client.http.close()
    with rt.db.transaction() as session:
        fresh = session.get(Document, doc.id)
        assert fresh is not None
        fresh.result = {**(fresh.result or {}), "ticket": ticket}
        service.transition(session, fresh, State.SUBMITTING, f"ticket {ticket}: en proceso")
    raise RetryJob(f"ticket {ticket}", float(config["poll_seconds"]))


class _Settled(RetryJob):
    """Internal: the document settled; nothing to retry (caught in summary_job's caller)."""

    def __init__(self) -> None:
        super().__init__("settled", 0)


def _poll_ticket(rt: Runtime, config: PeConfig, doc: Document, job: Job) -> None:
    with rt.db.transaction() as session:
        fresh = session.get(Document, doc.id)
        assert fresh is not None
        ticket = str(fresh.result["ticket"])
        unknown_count = int(fresh.result.get("ticket_unknown", 0))
    poll = float(config["poll_seconds"])
    client = client_for(rt, config, doc.id)
    try:
        status = client.get_status(ticket)
    except BizlinksFault as fault:
        if fault.sunat_code == codes.TICKET_UNKNOWN and unknown_count < TICKET_UNKNOWN_TRIES:
            _store(rt, doc.id, [], {"ticket_unknown": unknown_count + 1})
            raise RetryJob(f"ticket {ticket}: 0127, reintento", poll * 2) from None
        apply_result(rt, doc.id, fault.to_result())
        return
    except ProviderError as exc:  # getStatus is safe to repeat
        raise RetryJob(f"getStatus: {exc.message}", poll) from None
    finally:
        client.http.close()
    if status.code == codes.TICKET_IN_PROCESS or status.cdr is None:
        delay = min(poll * (2 ** min(job.attempts, 5)), 60.0)
        raise RetryJob(f"ticket {ticket}: 98 en proceso", delay)
    cdr = status.cdr
    _store(rt, doc.id, [(f"R-{_file_base(doc)}.xml", cdr.xml, "application/xml")], cdr.as_dict())
    if status.code == "0" and cdr.code_class in (codes.CodeClass.ACCEPTED, codes.CodeClass.OBSERVED):
        _apply_summary(rt, doc, ticket)
        apply_result(
            rt,
            doc.id,
            CallResult(Outcome.ISSUED, cdr.description or "resumen aceptado", provider_ref=doc.data["doc_id"]),
        )
        return
    message = f"{cdr.code:04d} - {cdr.description or codes.message(cdr.code)}"
    apply_result(rt, doc.id, CallResult(Outcome.REJECTED, f"resumen rechazado: {message}"))


def _apply_summary(rt: Runtime, summary: Document, ticket: str) -> None:
    """Mark the documents a summary voided (or informed)."""
    with rt.db.transaction() as session:
        for target_id, condition in summary.data.get("targets", []):
            target = session.get(Document, int(target_id))
            if target is None:
                continue
            if condition == "3":
                service.transition(
                    session,
                    target,
                    VOIDED,
                    f"anulado por {summary.data['doc_id']} (ticket {ticket}): {summary.data.get('reason', '')}".strip(),
                )
            else:
                target.result = {**(target.result or {}), "summary": summary.data["doc_id"]}


def handle_job(rt: Runtime, job: Job) -> None:
    """The worker entry point for SEND_JOB (documents, summaries and voids)."""
    try:
        send_job(rt, job)
    except _Settled:
        return


def void_document(rt: Runtime, doc_id: int, reason: str) -> dict[str, Any]:
    """RA for facturas and their notes; RC with ConditionCode 3 for boletas and theirs."""
    from pasarela.providers.pe.bizlinks.ledger import create_summary

    config = pe_config(rt.settings)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("indica el motivo de la anulación (--reason)")
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is None or doc.provider != PROVIDER or doc.kind in SUMMARY_KINDS:
            raise NotFound(f"documento {doc_id} no es un comprobante peruano")
        if doc.state != State.ISSUED:
            raise Conflict(
                f"documento {doc_id} está en estado {doc.state}; solo se anula un comprobante emitido (issued)"
            )
        data, result = dict(doc.data), dict(doc.result or {})
    doc_in = data["input"]
    series = doc_in["series"]
    reference_date = date.fromisoformat(data["issue_date"])
    if series.startswith("B"):
        payload = {"items": [mapping.summary_item(data, result, "3")], "targets": [[doc_id, "3"]], "reason": reason}
        kind = "RC"
    else:
        payload = {
            "items": [{"doc_type": doc_in["type"], "series": series, "number": data["number"], "reason": reason}],
            "targets": [[doc_id, "3"]],
            "reason": reason,
        }
        kind = "RA"
    created = create_summary(rt, config, kind, reference_date, payload, f"pe:{config.ruc}:void:{doc_id}")
    return created.as_dict()


def daily_summary(rt: Runtime, day: date) -> dict[str, Any]:
    """RC informing every issued boleta (and B-series note) of a day not yet in a summary."""
    from sqlalchemy import select

    from pasarela.providers.pe.bizlinks.ledger import create_summary

    config = pe_config(rt.settings)
    items, targets = [], []
    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document)
            .where(
                Document.provider == PROVIDER,
                Document.kind.in_(("pe-03", "pe-07", "pe-08")),
                Document.state == State.ISSUED,
            )
            .order_by(Document.id)
        )
        for doc in docs:
            data = doc.data
            if data.get("issue_date") != day.isoformat() or not data["input"]["series"].startswith("B"):
                continue
            if (doc.result or {}).get("summary"):
                continue
            items.append(mapping.summary_item(data, doc.result or {}, "1"))
            targets.append([doc.id, "1"])
    if not items:
        raise NotFound(f"no hay boletas emitidas el {day.isoformat()} pendientes de resumen")
    key = f"pe:{config.ruc}:rc:{day.isoformat()}:" + ",".join(str(t[0]) for t in targets)
    return create_summary(rt, config, "RC", day, {"items": items, "targets": targets}, key).as_dict()
