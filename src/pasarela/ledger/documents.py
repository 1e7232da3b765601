"""Documents, their transitions, inbound events and provider calls. Each function works inside the caller's
transaction (a Session)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pasarela.core.outcomes import State
from pasarela.ledger.jobs import enqueue
from pasarela.ledger.models import Document, Event, ProviderCall, Transition, utcnow


def record_event(
    session: Session,
    *,
    source: str,
    status: str,
    kind: str = "",
    source_ref: str | None = None,
    reason: str = "",
    headers: dict[str, Any] | None = None,
    body: bytes | None = None,
    document_id: int | None = None,
    keep_body_bytes: int = 1_048_576,
) -> Event:
    event = Event(
        source=source,
        kind=kind,
        source_ref=source_ref,
        status=status,
        reason=reason,
        headers=headers or {},
        body=body[:keep_body_bytes] if body is not None else None,
        body_size=len(body) if body is not None else 0,
        document_id=document_id,
    )
    session.add(event)
    session.flush()
    return event


def transition(session: Session, doc: Document, to_state: str, reason: str = "", actor: str = "system") -> None:
    """Move a document to another state, recording why."""
    session.add(
        Transition(document_id=doc.id, from_state=doc.state, to_state=str(to_state), reason=reason, actor=actor)
    )
    doc.state = str(to_state)
    doc.reason = reason
    doc.updated_at = utcnow()


def create_document(
    session: Session,
    *,
    idempotency_key: str,
    country: str,
    provider: str,
    kind: str,
    data: dict[str, Any],
    source_ref: str | None = None,
    job_kind: str | None = None,
    state: str = State.QUEUED,
    reason: str = "",
    max_attempts: int = 8,
) -> tuple[Document, bool]:
    """Insert the document (and its first job) unless the idempotency key exists.

    Returns (document, created). Uses a savepoint so a concurrent duplicate insert leaves the
    caller's transaction usable.
    """
    existing = session.scalar(select(Document).where(Document.idempotency_key == idempotency_key))
    if existing is not None:
        return existing, False
    doc = Document(
        idempotency_key=idempotency_key,
        country=country,
        provider=provider,
        kind=kind,
        source_ref=source_ref,
        state=State.RECEIVED,
        data=data,
    )
    try:
        with session.begin_nested():
            session.add(doc)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(Document).where(Document.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing, False
    session.add(Transition(document_id=doc.id, from_state=None, to_state=State.RECEIVED, reason="recibido"))
    transition(session, doc, state, reason)
    if job_kind and state == State.QUEUED:
        enqueue(session, job_kind, document_id=doc.id, max_attempts=max_attempts)
    return doc, True


def record_call(session: Session, call: dict[str, Any]) -> ProviderCall:
    row = ProviderCall(**call)
    session.add(row)
    session.flush()
    return row


def document_query(
    *,
    country: str | None = None,
    provider: str | None = None,
    state: str | None = None,
    source_ref: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
) -> Select[Any]:
    query = select(Document)
    if country:
        query = query.where(Document.country == country.upper())
    if provider:
        query = query.where(Document.provider == provider)
    if state:
        query = query.where(Document.state == state)
    if source_ref:
        query = query.where(Document.source_ref == source_ref)
    if kind:
        query = query.where(Document.kind == kind)
    if since:
        query = query.where(Document.created_at >= since)
    return query


def count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
