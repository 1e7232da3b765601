"""Ledger side of Peru: gap-free correlatives and document creation in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pasarela.ledger import service
from pasarela.ledger.models import Document
from pasarela.providers.pe.bizlinks.config import PeConfig
from pasarela.providers.pe.bizlinks.models import PeCounter
from pasarela.providers.pe.ubl.model import DocumentIn, compute_totals, lima_now, validation_message
from pasarela.runtime import Runtime

PROVIDER = "bizlinks"
SEND_JOB = "pe.bizlinks.send"
# The follow-up of an issue: representación impresa and the customer's e-mail (flow.on_issued).
DELIVER_JOB = "pe.bizlinks.deliver"
SUMMARY_KINDS = {"pe-RC", "pe-RA"}
MAX_ATTEMPTS = 40  # ticket polling and in-doubt lookups need more than the default 8


def next_number(session: Session, ruc: str, series: str) -> int:
    """The next correlative, taken inside the caller's transaction: a rollback gives it back, so
    numbers have no gaps; the row lock (PostgreSQL) / write lock (SQLite) serialises issuers."""
    for _ in range(3):
        number = session.execute(
            update(PeCounter)
            .where(PeCounter.ruc == ruc, PeCounter.series == series)
            .values(last=PeCounter.last + 1)
            .returning(PeCounter.last)
        ).scalar()
        if number is not None:
            return int(number)
        try:
            with session.begin_nested():
                session.add(PeCounter(ruc=ruc, series=series, last=1))
                session.flush()
            return 1
        except IntegrityError:
            continue  # another transaction created the row first; take the next one
    raise RuntimeError(f"no se pudo asignar correlativo para {series}")


class _Duplicate(Exception):
    def __init__(self, doc_id: int):
        self.doc_id = doc_id


@dataclass
class Created:
    ok: bool
    document_id: int | None = None
    doc_id: str = ""  # F001-1
    state: str = ""
    duplicate: bool = False
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def _record_invalid(rt: Runtime, source: str, raw: Any, message: str) -> None:
    with rt.db.transaction() as session:
        service.record_event(
            session,
            source=source,
            kind="pe.document",
            status="rejected",
            reason=message,
            body=json.dumps(raw, ensure_ascii=False, default=str).encode(),
        )


def create_document(rt: Runtime, config: PeConfig, raw: Any, source: str = "pe.api") -> Created:
    """Validate, number and queue one document. Invalid input is recorded and explained, never lost."""
    if not isinstance(raw, dict):
        _record_invalid(rt, source, raw, "cada documento debe ser un objeto JSON")
        return Created(False, error="cada documento debe ser un objeto JSON")
    try:
        doc_in = DocumentIn.model_validate(raw)
        now = lima_now()
        issue_date = doc_in.issue_date or now.date()
        compute_totals(doc_in, issue_date.year)
    except ValidationError as exc:
        message = validation_message(exc)
        _record_invalid(rt, source, raw, message)
        return Created(False, error=message)
    except ValueError as exc:
        _record_invalid(rt, source, raw, str(exc))
        return Created(False, error=str(exc))
    key_ext = f"pe:{config.ruc}:ext:{doc_in.external_id}" if doc_in.external_id else None
    try:
        with rt.db.transaction() as session:
            if key_ext:
                existing = session.scalar(select(Document).where(Document.idempotency_key == key_ext))
                if existing is not None:
                    raise _Duplicate(existing.id)
            number = next_number(session, config.ruc, doc_in.series)
            doc_id = f"{doc_in.series}-{number}"
            data = {
                "input": doc_in.model_dump(mode="json", exclude_none=True),
                "ruc": config.ruc,
                "number": number,
                "doc_id": doc_id,
                "issue_date": issue_date.isoformat(),
                "issue_time": (doc_in.issue_time or now.time()).strftime("%H:%M:%S"),
            }
            doc, created = service.create_document(
                session,
                idempotency_key=key_ext or f"pe:{config.ruc}:{doc_in.type}-{doc_id}",
                country="PE",
                provider=PROVIDER,
                kind=f"pe-{doc_in.type}",
                data=data,
                source_ref=doc_in.external_id or doc_id,
                job_kind=SEND_JOB,
                max_attempts=MAX_ATTEMPTS,
            )
            if not created:
                raise _Duplicate(doc.id)  # rolls the number back
            doc.provider_ref = doc_id
            return Created(True, doc.id, doc_id, doc.state)
    except _Duplicate as dup:
        with rt.db.transaction() as session:
            original = session.get(Document, dup.doc_id)
            assert original is not None
            return Created(True, original.id, str(original.provider_ref or ""), original.state, duplicate=True)


def create_summary(
    rt: Runtime, config: PeConfig, kind: str, reference_date: date, payload: dict[str, Any], idempotency_key: str
) -> Created:
    """A resumen diario (RC) or comunicación de baja (RA), numbered per issue day."""
    today = lima_now().date()
    with rt.db.transaction() as session:
        existing = session.scalar(select(Document).where(Document.idempotency_key == idempotency_key))
        if existing is not None:
            return Created(True, existing.id, str(existing.provider_ref or ""), existing.state, duplicate=True)
        number = next_number(session, config.ruc, f"{kind}-{today:%Y%m%d}")
        summary_id = f"{kind}-{today:%Y%m%d}-{number}"
        data = {
            "ruc": config.ruc,
            "number": number,
            "doc_id": summary_id,
            "issue_date": today.isoformat(),
            "reference_date": reference_date.isoformat(),
            **payload,
        }
        doc, _ = service.create_document(
            session,
            idempotency_key=idempotency_key,
            country="PE",
            provider=PROVIDER,
            kind=f"pe-{kind}",
            data=data,
            source_ref=summary_id,
            job_kind=SEND_JOB,
            max_attempts=MAX_ATTEMPTS,
        )
        doc.provider_ref = summary_id
        return Created(True, doc.id, summary_id, doc.state)
