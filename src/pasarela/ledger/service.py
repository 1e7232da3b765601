"""Ledger operations. Each function works inside the caller's transaction (a Session)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pasarela.core.outcomes import State
from pasarela.ledger.db import json_dumps
from pasarela.ledger.models import Artifact, Document, Event, Job, ProviderCall, Transition, utcnow


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


# Plain Core statements for the hot path: compiled once, no ORM unit of work.
_documents: Table = Document.__table__  # type: ignore[assignment]
_events: Table = Event.__table__  # type: ignore[assignment]
_FIND_BY_KEY = select(_documents.c.id, _documents.c.state).where(_documents.c.idempotency_key == bindparam("key"))
_INSERT_DOCUMENT = _documents.insert().returning(_documents.c.id)
_INSERT_DOCUMENTS = _documents.insert().returning(_documents.c.id, sort_by_parameter_order=True)
_INSERT_TRANSITION = Transition.__table__.insert()  # type: ignore[attr-defined]
_INSERT_JOB = Job.__table__.insert()  # type: ignore[attr-defined]
_INSERT_EVENT = _events.insert()


def ingest_document(
    session: Session,
    *,
    idempotency_key: str,
    country: str,
    provider: str,
    kind: str,
    data: dict[str, Any],
    source_ref: str | None,
    job_kind: str,
    event: dict[str, Any],
    max_attempts: int = 8,
) -> tuple[int, bool, str]:
    """The hot path of a webhook: event + document + first job, with plain INSERTs (no ORM units of work).

    Returns (document id, created, state). A known idempotency key records the event as a duplicate.
    """
    conn = session.connection()
    found = conn.execute(_FIND_BY_KEY, {"key": idempotency_key}).first()
    if found is not None:
        conn.execute(
            _INSERT_EVENT,
            {
                **event,
                "status": "duplicate",
                "document_id": found.id,
                "received_at": utcnow(),
                "reason": f"ya recibido (documento {found.id}, estado {found.state})",
            },
        )
        return int(found.id), False, str(found.state)
    now = utcnow()
    doc_id = conn.execute(
        _INSERT_DOCUMENT,
        {
            "idempotency_key": idempotency_key,
            "country": country,
            "provider": provider,
            "kind": kind,
            "source_ref": source_ref,
            "state": State.QUEUED,
            "reason": "en cola",
            "data": data,
            "overrides": {},
            "result": {},
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    conn.execute(
        _INSERT_TRANSITION,
        [
            {
                "document_id": doc_id,
                "from_state": None,
                "to_state": State.RECEIVED,
                "reason": "recibido",
                "actor": "system",
                "at": now,
            },
            {
                "document_id": doc_id,
                "from_state": State.RECEIVED,
                "to_state": State.QUEUED,
                "reason": "en cola",
                "actor": "system",
                "at": now,
            },
        ],
    )
    conn.execute(
        _INSERT_JOB,
        {
            "kind": job_kind,
            "document_id": doc_id,
            "payload": {},
            "state": "pending",
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": now,
            "last_error": "",
            "created_at": now,
        },
    )
    conn.execute(
        _INSERT_EVENT, {**event, "status": "accepted", "reason": "", "document_id": doc_id, "received_at": now}
    )
    return int(doc_id), True, State.QUEUED


@dataclass
class IngestRequest:
    """One webhook's worth of ledger writes, batchable by the group writer."""

    idempotency_key: str
    country: str
    provider: str
    kind: str
    data: dict[str, Any]
    source_ref: str | None
    job_kind: str
    event: dict[str, Any]
    max_attempts: int = 8

    def __call__(self, session: Session) -> tuple[int, bool, str]:
        return ingest_document(session, **self.__dict__)


def ingest_batch(session: Session, requests: list[IngestRequest]) -> list[tuple[int, bool, str]]:
    """Many IngestRequests with one statement per table (executemany, INSERT … RETURNING in order)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return _ingest_batch_sqlite(conn.connection.driver_connection, requests)
    keys = list({r.idempotency_key for r in requests})
    known = {
        row.idempotency_key: (int(row.id), str(row.state))
        for row in conn.execute(
            select(_documents.c.id, _documents.c.state, _documents.c.idempotency_key).where(
                _documents.c.idempotency_key.in_(keys)
            )
        )
    }
    now = utcnow()
    new: dict[str, IngestRequest] = {}
    for request in requests:
        if request.idempotency_key not in known and request.idempotency_key not in new:
            new[request.idempotency_key] = request
    if new:
        rows = (
            conn.execute(
                _INSERT_DOCUMENTS,
                [
                    {
                        "idempotency_key": r.idempotency_key,
                        "country": r.country,
                        "provider": r.provider,
                        "kind": r.kind,
                        "source_ref": r.source_ref,
                        "state": State.QUEUED,
                        "reason": "en cola",
                        "data": r.data,
                        "overrides": {},
                        "result": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for r in new.values()
                ],
            )
            .scalars()
            .all()
        )
        for request, doc_id in zip(new.values(), rows, strict=True):
            known[request.idempotency_key] = (int(doc_id), "")
        conn.execute(
            _INSERT_TRANSITION,
            [
                {
                    "document_id": known[key][0],
                    "from_state": before,
                    "to_state": after,
                    "reason": why,
                    "actor": "system",
                    "at": now,
                }
                for key in new
                for before, after, why in (
                    (None, State.RECEIVED, "recibido"),
                    (State.RECEIVED, State.QUEUED, "en cola"),
                )
            ],
        )
        conn.execute(
            _INSERT_JOB,
            [
                {
                    "kind": r.job_kind,
                    "document_id": known[key][0],
                    "payload": {},
                    "state": "pending",
                    "attempts": 0,
                    "max_attempts": r.max_attempts,
                    "run_after": now,
                    "last_error": "",
                    "created_at": now,
                }
                for key, r in new.items()
            ],
        )
    results: list[tuple[int, bool, str]] = []
    events = []
    first_seen: set[str] = set()
    for request in requests:
        doc_id, state = known[request.idempotency_key]
        created = request.idempotency_key in new and request.idempotency_key not in first_seen
        first_seen.add(request.idempotency_key)
        state = State.QUEUED if request.idempotency_key in new else state
        events.append(
            {
                **request.event,
                "status": "accepted" if created else "duplicate",
                "document_id": doc_id,
                "received_at": now,
                "reason": "" if created else f"ya recibido (documento {doc_id}, estado {state})",
            }
        )
        results.append((doc_id, created, state))
    conn.execute(_INSERT_EVENT, events)
    return results


_SQLITE_DOCUMENT = (
    "INSERT INTO documents (idempotency_key, country, provider, kind, source_ref, state, reason, data, overrides,"
    " result, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 'en cola', ?, '{}', '{}', ?, ?)"
)
_SQLITE_TRANSITION = (
    "INSERT INTO transitions (document_id, from_state, to_state, reason, actor, at) VALUES (?, ?, ?, ?, 'system', ?)"
)
_SQLITE_JOB = (
    "INSERT INTO jobs (kind, document_id, payload, state, attempts, max_attempts, run_after, last_error, created_at)"
    " VALUES (?, ?, '{}', 'pending', 0, ?, ?, '', ?)"
)
_SQLITE_EVENT = (
    "INSERT INTO events (source, kind, source_ref, status, reason, headers, body, body_size, document_id, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _ingest_batch_sqlite(db: Any, requests: list[IngestRequest]) -> list[tuple[int, bool, str]]:
    """The same writes as `ingest_batch`, straight through sqlite3 inside the caller's transaction.

    Why: this is the one path whose cost decides how many webhooks a second we can acknowledge
    durably (bench/ingest); SQLAlchemy's per-row work was most of it. The SQL and the stored
    formats (datetimes as SQLAlchemy writes them, JSON text) match the ORM's exactly.
    """
    now = utcnow()
    stamp = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    keys = list({r.idempotency_key for r in requests})
    known: dict[str, tuple[int, str]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for doc_id, state, key in db.execute(
            f"SELECT id, state, idempotency_key FROM documents WHERE idempotency_key IN ({marks})", chunk
        ):
            known[key] = (int(doc_id), str(state))
    new: dict[str, IngestRequest] = {}
    cursor = db.cursor()
    for request in requests:
        key = request.idempotency_key
        if key in known:
            continue
        cursor.execute(
            _SQLITE_DOCUMENT,
            (
                key,
                request.country,
                request.provider,
                request.kind,
                request.source_ref,
                json_dumps(request.data),
                stamp,
                stamp,
            ),
        )
        known[key] = (int(cursor.lastrowid), State.QUEUED)
        new[key] = request
    if new:
        cursor.executemany(
            _SQLITE_TRANSITION,
            [
                row
                for key in new
                for row in (
                    (known[key][0], None, State.RECEIVED, "recibido", stamp),
                    (known[key][0], State.RECEIVED, State.QUEUED, "en cola", stamp),
                )
            ],
        )
        cursor.executemany(
            _SQLITE_JOB, [(r.job_kind, known[key][0], r.max_attempts, stamp, stamp) for key, r in new.items()]
        )
    results: list[tuple[int, bool, str]] = []
    events = []
    first_seen: set[str] = set()
    for request in requests:
        key = request.idempotency_key
        doc_id, state = known[key]
        created = key in new and key not in first_seen
        first_seen.add(key)
        event = request.event
        events.append(
            (
                event["source"],
                event.get("kind", ""),
                event.get("source_ref"),
                "accepted" if created else "duplicate",
                "" if created else f"ya recibido (documento {doc_id}, estado {state})",
                json_dumps(event.get("headers") or {}),
                event.get("body"),
                event.get("body_size", 0),
                doc_id,
                stamp,
            )
        )
        results.append((doc_id, created, state))
    cursor.executemany(_SQLITE_EVENT, events)
    cursor.close()
    return results


def enqueue(
    session: Session,
    kind: str,
    *,
    document_id: int | None = None,
    payload: dict[str, Any] | None = None,
    delay: float = 0.0,
    max_attempts: int = 8,
) -> Job:
    job = Job(
        kind=kind,
        document_id=document_id,
        payload=payload or {},
        run_after=utcnow() + timedelta(seconds=delay),
        max_attempts=max_attempts,
    )
    session.add(job)
    session.flush()
    return job


def pending_job(session: Session, document_id: int, kind: str | None = None) -> Job | None:
    query = select(Job).where(Job.document_id == document_id, Job.state.in_(("pending", "running")))
    if kind:
        query = query.where(Job.kind == kind)
    return session.scalar(query.limit(1))


def claim_job(session: Session, owner: str, lease_seconds: float, kinds: list[str] | None = None) -> Job | None:
    """Take the next runnable job: pending and due, or running with an expired lease (a dead worker's)."""
    now = utcnow()
    query = (
        select(Job)
        .where(
            or_(
                (Job.state == "pending") & (Job.run_after <= now),
                (Job.state == "running") & (Job.lease_until < now),
            )
        )
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = session.scalar(query)
    if job is None:
        return None
    job.state = "running"
    job.attempts += 1
    job.lease_owner = owner
    job.lease_until = now + timedelta(seconds=lease_seconds)
    return job


def extend_lease(session: Session, job_id: int, owner: str, lease_seconds: float) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_job(session: Session, job: Job, state: str = "done", error: str = "") -> None:
    job.state = state
    job.last_error = error
    job.lease_owner = None
    job.lease_until = None
    job.finished_at = utcnow()


def reschedule_job(session: Session, job: Job, delay: float, error: str = "") -> None:
    job.state = "pending"
    job.last_error = error
    job.lease_owner = None
    job.lease_until = None
    job.run_after = utcnow() + timedelta(seconds=delay)


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 900.0) -> float:
    """Exponential backoff: 2, 4, 8 … seconds, capped (15 min by default)."""
    return float(min(cap, base ** max(1, attempt)))


def record_call(session: Session, call: dict[str, Any]) -> ProviderCall:
    row = ProviderCall(**call)
    session.add(row)
    session.flush()
    return row


def store_artifact(
    session: Session,
    artifacts_dir: Path,
    doc: Document,
    name: str,
    content: bytes,
    content_type: str,
) -> Artifact:
    """Write the bytes durably (temp file + fsync + rename), then index them. Replaces a same-named one."""
    folder = artifacts_dir / doc.country.lower() / doc.provider / str(doc.id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        tmp.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    existing = session.scalar(select(Artifact).where(Artifact.document_id == doc.id, Artifact.name == name))
    artifact = existing or Artifact(document_id=doc.id, name=name)
    artifact.content_type = content_type
    artifact.path = str(target)
    artifact.sha256 = hashlib.sha256(content).hexdigest()
    artifact.size = len(content)
    if existing is None:
        session.add(artifact)
    session.flush()
    return artifact


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
