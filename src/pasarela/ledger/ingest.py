"""The webhook hot path: event + document + first job in the caller's transaction, many at a time.

One algorithm (`ingest_batch`) over two row writers with the same four methods: `_CoreRows` (SQLAlchemy
Core, executemany with INSERT … RETURNING in parameter order; PostgreSQL) and `_SqliteRows` (straight
through sqlite3). Why the second: on SQLite this path decides how many webhooks a second we acknowledge
durably (bench/ingest), and SQLAlchemy's per-row work was most of it. Both store the same rows in the same
formats (datetimes as SQLAlchemy writes them, JSON text); a parity test holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from pasarela.core.outcomes import State
from pasarela.ledger.db import json_dumps
from pasarela.ledger.models import Document, Event, Job, Transition, utcnow

_documents: Table = Document.__table__  # type: ignore[assignment]
_FIRST_TRANSITIONS = ((None, State.RECEIVED, "recibido"), (State.RECEIVED, State.QUEUED, "en cola"))


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
        return ingest_batch(session, [self])[0]


def ingest_document(session: Session, **fields: Any) -> tuple[int, bool, str]:
    """One request: (document id, created, state). A known idempotency key records the event as a duplicate."""
    return ingest_batch(session, [IngestRequest(**fields)])[0]


def ingest_batch(session: Session, requests: list[IngestRequest]) -> list[tuple[int, bool, str]]:
    """Many requests, one statement per table. Returns (document id, created, state) per request, in order."""
    conn = session.connection()
    rows: _CoreRows | _SqliteRows
    rows = _SqliteRows(conn.connection.driver_connection) if conn.dialect.name == "sqlite" else _CoreRows(conn)
    now = utcnow()
    known = rows.known(list({r.idempotency_key for r in requests}))
    new: dict[str, IngestRequest] = {}
    for request in requests:
        if request.idempotency_key not in known:
            new.setdefault(request.idempotency_key, request)
    if new:
        ids = rows.insert_documents(list(new.values()), now)
        known.update({key: (doc_id, State.QUEUED) for key, doc_id in zip(new, ids, strict=True)})
        rows.insert_first_transitions([known[key][0] for key in new], now)
        rows.insert_jobs([(r, known[key][0]) for key, r in new.items()], now)
    results, events = _outcomes(requests, known, new)
    rows.insert_events(events, now)
    return results


def _outcomes(
    requests: list[IngestRequest], known: dict[str, tuple[int, str]], new: dict[str, IngestRequest]
) -> tuple[list[tuple[int, bool, str]], list[dict[str, Any]]]:
    """Per request: created (the first of a new key) or a duplicate, and the event row that says so."""
    results: list[tuple[int, bool, str]] = []
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    for request in requests:
        key = request.idempotency_key
        doc_id, state = known[key]
        created = key in new and key not in seen
        seen.add(key)
        reason = "" if created else f"ya recibido (documento {doc_id}, estado {state})"
        events.append(
            {**request.event, "status": "accepted" if created else "duplicate", "reason": reason, "document_id": doc_id}
        )
        results.append((doc_id, created, state))
    return results, events


def _document_row(request: IngestRequest, now: datetime) -> dict[str, Any]:
    return {
        "idempotency_key": request.idempotency_key,
        "country": request.country,
        "provider": request.provider,
        "kind": request.kind,
        "source_ref": request.source_ref,
        "state": State.QUEUED,
        "reason": "en cola",
        "data": request.data,
        "overrides": {},
        "result": {},
        "created_at": now,
        "updated_at": now,
    }


class _CoreRows:
    """The rows through SQLAlchemy Core (PostgreSQL)."""

    def __init__(self, conn: Any):
        self.conn = conn

    def known(self, keys: list[str]) -> dict[str, tuple[int, str]]:
        c = _documents.c
        query = select(c.id, c.state, c.idempotency_key).where(c.idempotency_key.in_(keys))
        return {row.idempotency_key: (int(row.id), str(row.state)) for row in self.conn.execute(query)}

    def insert_documents(self, requests: list[IngestRequest], now: datetime) -> list[int]:
        statement = _documents.insert().returning(_documents.c.id, sort_by_parameter_order=True)
        return [int(i) for i in self.conn.execute(statement, [_document_row(r, now) for r in requests]).scalars()]

    def insert_first_transitions(self, doc_ids: list[int], now: datetime) -> None:
        rows = [
            {"document_id": d, "from_state": a, "to_state": b, "reason": why, "actor": "system", "at": now}
            for d in doc_ids
            for a, b, why in _FIRST_TRANSITIONS
        ]
        self.conn.execute(Transition.__table__.insert(), rows)  # type: ignore[attr-defined]

    def insert_jobs(self, pairs: list[tuple[IngestRequest, int]], now: datetime) -> None:
        rows = [
            {
                "kind": r.job_kind,
                "document_id": d,
                "payload": {},
                "state": "pending",
                "attempts": 0,
                "max_attempts": r.max_attempts,
                "run_after": now,
                "last_error": "",
                "created_at": now,
            }
            for r, d in pairs
        ]
        self.conn.execute(Job.__table__.insert(), rows)  # type: ignore[attr-defined]

    def insert_events(self, events: list[dict[str, Any]], now: datetime) -> None:
        self.conn.execute(Event.__table__.insert(), [{**e, "received_at": now} for e in events])  # type: ignore[attr-defined]


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


def _stamp(now: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it."""
    return now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class _SqliteRows:
    """The same rows straight through sqlite3, inside the caller's transaction."""

    def __init__(self, db: Any):
        self.db = db

    def known(self, keys: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, state, idempotency_key FROM documents WHERE idempotency_key IN ({marks})"
            for doc_id, state, key in self.db.execute(query, chunk):
                found[key] = (int(doc_id), str(state))
        return found

    def insert_documents(self, requests: list[IngestRequest], now: datetime) -> list[int]:
        stamp, cursor, ids = _stamp(now), self.db.cursor(), []
        for r in requests:  # one by one: lastrowid is the portable way to get each id
            cursor.execute(
                _SQLITE_DOCUMENT,
                (r.idempotency_key, r.country, r.provider, r.kind, r.source_ref, json_dumps(r.data), stamp, stamp),
            )
            ids.append(int(cursor.lastrowid))
        cursor.close()
        return ids

    def insert_first_transitions(self, doc_ids: list[int], now: datetime) -> None:
        stamp = _stamp(now)
        rows = [(d, a, b, why, stamp) for d in doc_ids for a, b, why in _FIRST_TRANSITIONS]
        self.db.executemany(_SQLITE_TRANSITION, rows)

    def insert_jobs(self, pairs: list[tuple[IngestRequest, int]], now: datetime) -> None:
        stamp = _stamp(now)
        self.db.executemany(_SQLITE_JOB, [(r.job_kind, d, r.max_attempts, stamp, stamp) for r, d in pairs])

    def insert_events(self, events: list[dict[str, Any]], now: datetime) -> None:
        stamp = _stamp(now)
        rows = [
            (
                e["source"],
                e.get("kind", ""),
                e.get("source_ref"),
                e["status"],
                e["reason"],
                json_dumps(e.get("headers") or {}),
                e.get("body"),
                e.get("body_size", 0),
                e["document_id"],
                stamp,
            )
            for e in events
        ]
        self.db.executemany(_SQLITE_EVENT, rows)
