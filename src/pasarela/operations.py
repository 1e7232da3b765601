"""What an operator does to a document, shared by the HTTP API and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pasarela.core.errors import Conflict, InvalidInput, NotFound
from pasarela.core.outcomes import State
from pasarela.flow import record_issued
from pasarela.ledger import service
from pasarela.ledger.models import Document, ProviderCall
from pasarela.plugins import plugin_for
from pasarela.runtime import Runtime

RETRYABLE_STATES = {State.NEEDS_ATTENTION, State.FAILED, State.SKIPPED, State.REJECTED}



def document_label(doc: Document) -> str:
    """A short human name: the provider's document type where known (e.g. 'boleta 39'), else the kind."""
    result = doc.result or {}
    label = result.get("label")
    if label:
        return str(label)
    tipo = result.get("tipo_dte") or (doc.data or {}).get("tipo_dte")
    names = {
        33: "factura",
        34: "factura exenta",
        39: "boleta",
        41: "boleta exenta",
        56: "nota débito",
        61: "nota crédito",
    }
    if tipo and doc.country == "CL":
        return f"{names.get(int(tipo), 'DTE')} {tipo}"
    return doc.kind


def document_dict(doc: Document, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc.id,
        "country": doc.country,
        "provider": doc.provider,
        "kind": doc.kind,
        "source_ref": doc.source_ref,
        "idempotency_key": doc.idempotency_key,
        "label": document_label(doc),
        "state": doc.state,
        "reason": doc.reason,
        "provider_ref": doc.provider_ref,
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
    }
    if full:
        out["data"] = doc.data
        out["overrides"] = doc.overrides
        out["result"] = doc.result
        out["history"] = [
            {"from": t.from_state, "to": t.to_state, "reason": t.reason, "actor": t.actor, "at": t.at.isoformat()}
            for t in doc.transitions
        ]
        out["artifacts"] = [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256} for a in doc.artifacts
        ]
    return out


def get_document(rt: Runtime, doc_id: int, *, with_calls: bool = False) -> dict[str, Any]:
    with rt.db.transaction() as session:
        doc = session.scalar(
            select(Document)
            .where(Document.id == doc_id)
            .options(selectinload(Document.transitions), selectinload(Document.artifacts))
        )
        if doc is None:
            raise NotFound(f"documento {doc_id} no existe")
        out = document_dict(doc, full=True)
        if with_calls:
            calls = session.scalars(
                select(ProviderCall).where(ProviderCall.document_id == doc_id).order_by(ProviderCall.id)
            )
            out["calls"] = [
                {
                    "operation": c.operation,
                    "http_status": c.http_status,
                    "outcome": c.outcome,
                    "error": c.error,
                    "duration_ms": c.duration_ms,
                    "at": c.at.isoformat(),
                }
                for c in calls
            ]
        return out


def retry_document(
    rt: Runtime, doc_id: int, corrections: dict[str, Any] | None = None, actor: str = "operator"
) -> dict[str, Any]:
    """Apply corrections (if any) and queue the document again. Only for documents a person must fix."""
    plugin = None
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"documento {doc_id} no existe")
        plugin = plugin_for(doc.provider)
        if doc.state not in RETRYABLE_STATES:
            hint = " (usa `resolve`: pudo haber sido emitido)" if doc.state == State.IN_DOUBT else ""
            raise Conflict(f"documento {doc_id} está en estado {doc.state}; no se puede reintentar{hint}")
        if plugin.submit_job is None:
            raise Conflict(f"el proveedor {doc.provider} no admite reintentos")
        if corrections:
            doc.overrides = {**(doc.overrides or {}), **corrections}
        if plugin.validate_overrides is not None:
            problem = plugin.validate_overrides(rt, doc)
            if problem:
                raise InvalidInput(problem)
        changed = ", ".join(f"{k}={v}" for k, v in (corrections or {}).items())
        service.transition(session, doc, State.QUEUED, f"reintento manual{': ' + changed if changed else ''}", actor)
        if service.pending_job(session, doc.id) is None:
            service.enqueue(session, plugin.submit_job, document_id=doc.id)
    return get_document(rt, doc_id)


def resolve_document(rt: Runtime, doc_id: int, request: dict[str, Any]) -> dict[str, Any]:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"documento {doc_id} no existe")
        provider = doc.provider
    plugin = plugin_for(provider)
    if plugin.resolve is None:
        raise Conflict(f"el proveedor {provider} no tiene resolución manual")
    message = plugin.resolve(rt, doc_id, request)
    out = get_document(rt, doc_id)
    out["message"] = message
    return out


def resolve_with_reference(
    rt: Runtime,
    doc_id: int,
    request: dict[str, Any],
    *,
    ref_label: str = "folio",
    issued_state: str = State.ISSUED,
    details: dict[str, Any] | None = None,
) -> str:
    """Generic manual resolution for an in-doubt document.

    action "issued": the operator saw it in the provider's portal; ``provider_ref`` is required.
    action "reissue": the operator checked it was NOT issued; the document is sent again.
    action "skip": nothing will be issued for it.
    """
    action = str(request.get("action") or ("issued" if request.get("provider_ref") else ""))
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        allowed = {State.IN_DOUBT, State.NEEDS_ATTENTION, State.FAILED}
        if doc.state not in allowed:
            raise Conflict(
                f"documento {doc_id} está en estado {doc.state}; solo se resuelve en in_doubt/needs_attention/failed"
            )
        note = str(request.get("note") or "")
        if action == "issued":
            ref = str(request.get("provider_ref") or "").strip()
            if not ref:
                raise InvalidInput(f"falta provider_ref ({ref_label} visto en el proveedor)")
            doc.provider_ref = ref
            doc.result = {**(doc.result or {}), **(details or {}), ref_label: ref, "resolved_manually": True}
            service.transition(
                session, doc, issued_state, f"resuelto por operador: {ref_label} {ref} {note}".strip(), "operator"
            )
            record_issued(session, doc, plugin_for(doc.provider).submitter_for(doc.kind))
            return f"documento {doc_id} marcado emitido con {ref_label} {ref}"
        if action == "reissue":
            plugin = plugin_for(doc.provider)
            service.transition(
                session, doc, State.QUEUED, f"operador confirma que no fue emitido; reemitir {note}".strip(), "operator"
            )
            if service.pending_job(session, doc.id) is None and plugin.submit_job:
                service.enqueue(session, plugin.submit_job, document_id=doc.id)
            return f"documento {doc_id} en cola para reemisión"
        if action == "skip":
            service.transition(session, doc, State.SKIPPED, f"descartado por operador {note}".strip(), "operator")
            return f"documento {doc_id} descartado"
    raise InvalidInput("action debe ser issued (con provider_ref), reissue o skip")
