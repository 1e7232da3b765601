"""Plans SAT requests from a user's ask and keeps the never-twice registry.

The SAT lets a period be asked twice in a lifetime (5002 after that) and refuses a duplicate while
one is active (5005), so every period we ever asked is recorded, and asking again is refused with
the request that already covers it unless ``force`` is given.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pasarela.core.errors import InvalidInput
from pasarela.core.outcomes import State
from pasarela.ledger import service
from pasarela.ledger.models import Document
from pasarela.providers.mx.mysuite import transactions as tx
from pasarela.providers.mx.mysuite.config import load
from pasarela.providers.mx.mysuite.models import SatRequest
from pasarela.runtime import Runtime

JOB_REGISTER = "mysuite.register"
JOB_FOLLOW = "mysuite.follow"
TERMINAL = {"done", "empty", "rejected", "too_large", "expired", "error", "failed"}
DIRECTIONS = {"issued": "EMISOR", "received": "RECEPTOR"}
KINDS = {"xml": "CFDI", "metadata": "Metadata"}


@dataclass
class Ask:
    direccion: str  # EMISOR | RECEPTOR
    tipo: str  # CFDI | Metadata
    servicio: str  # CFDIS | RETENCIONES
    start: date
    end: date
    force: bool = False


@dataclass
class PlanResult:
    created: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def request_ids(self) -> list[int]:
        return [*self.created, *self.resumed]


def periods(start: date, end: date, split: str) -> list[tuple[str, str]]:
    """[start 00:00:00, end 23:59:59] cut by calendar month (or year, or not at all)."""
    if start > end:
        raise InvalidInput("la fecha inicial debe ser anterior o igual a la final", "from")
    cuts: list[tuple[date, date]] = []
    cursor = start
    while cursor <= end:
        if split == "month":
            last = date(cursor.year, cursor.month, calendar.monthrange(cursor.year, cursor.month)[1])
        elif split == "year":
            last = date(cursor.year, 12, 31)
        else:
            last = end
        last = min(last, end)
        cuts.append((cursor, last))
        cursor = date.fromordinal(last.toordinal() + 1)
    return [(datetime.combine(a, time.min).strftime(tx.DATE_FORMAT),
             datetime.combine(b, time(23, 59, 59)).strftime(tx.DATE_FORMAT)) for a, b in cuts]


def explain(existing: SatRequest) -> str:
    lifetime = ("el SAT permite pedir el mismo periodo sólo 2 veces en total; a la tercera responde 5002 "
                "(solicitudes de por vida agotadas)") if existing.tipo == "CFDI" else \
        "el SAT rechaza con 5005 una solicitud igual a otra activa"
    return (f"el periodo {existing.fecha_inicial} → {existing.fecha_final} ({existing.servicio}, {existing.direccion}, "
            f"{existing.tipo}) ya fue solicitado: solicitud #{existing.id} (MYSuite {existing.mysuite_id or '—'}, "
            f"estado {existing.state}). No se pide de nuevo: {lifetime}. Use --force para pedirlo de todos modos.")


def _covering(session: Session, rfc: str, ask: Ask, fi: str, ff: str) -> SatRequest | None:
    """The latest request for this exact period, or a live one whose period covers it."""
    rows = session.scalars(
        select(SatRequest).where(
            SatRequest.rfc == rfc, SatRequest.servicio == ask.servicio, SatRequest.direccion == ask.direccion,
            SatRequest.tipo == ask.tipo, SatRequest.fecha_inicial <= fi, SatRequest.fecha_final >= ff,
        ).order_by(SatRequest.attempt.desc(), SatRequest.id.desc())
    ).all()
    for row in rows:
        if (row.fecha_inicial, row.fecha_final) == (fi, ff):
            return row
    return next((r for r in rows if r.state not in ("rejected", "failed", "too_large")), None)


def plan(rt: Runtime, ask: Ask) -> PlanResult:
    conf = load(rt.settings)
    split = "none" if ask.tipo == "Metadata" else str(conf["split"])
    result = PlanResult()
    for fi, ff in periods(ask.start, ask.end, split):
        with rt.db.transaction() as session:
            existing = _covering(session, conf.rfc, ask, fi, ff)
            if existing is not None and not ask.force:
                if existing.state not in TERMINAL:
                    ensure_job(session, existing)
                    result.resumed.append(existing.id)
                else:
                    result.refused.append({"period": [fi, ff], "request_id": existing.id,
                                           "explanation": explain(existing)})
                continue
            attempt = 1
            exact = session.scalars(select(SatRequest.attempt).where(
                SatRequest.rfc == conf.rfc, SatRequest.servicio == ask.servicio, SatRequest.direccion == ask.direccion,
                SatRequest.tipo == ask.tipo, SatRequest.fecha_inicial == fi, SatRequest.fecha_final == ff)).all()
            if exact:
                attempt = max(exact) + 1
            result.created.append(_create(session, conf.rfc, ask, fi, ff, attempt))
    return result


def _create(session: Session, rfc: str, ask: Ask, fi: str, ff: str, attempt: int) -> int:
    data = {"rfc": rfc, "servicio": ask.servicio, "direccion": ask.direccion, "tipo": ask.tipo,
            "fecha_inicial": fi, "fecha_final": ff, "attempt": attempt}
    key = f"mysuite:{rfc}:{ask.servicio}:{ask.direccion}:{ask.tipo}:{fi}:{ff}:{attempt}"
    doc, _ = service.create_document(session, idempotency_key=key, country="MX", provider="mysuite",
                                     kind="sat_request", data=data, source_ref=key, job_kind=JOB_REGISTER)
    row = SatRequest(document_id=doc.id, rfc=rfc, servicio=ask.servicio, direccion=ask.direccion, tipo=ask.tipo,
                     fecha_inicial=fi, fecha_final=ff, attempt=attempt, state="planned", forced=int(ask.force))
    session.add(row)
    session.flush()
    return row.id


def ensure_job(session: Session, row: SatRequest) -> None:
    """A live request always has a job: resumes one whose job was lost with a crashed process."""
    if row.document_id is None or service.pending_job(session, row.document_id) is not None:
        return
    doc = session.get(Document, row.document_id)
    if doc is None:
        return
    if doc.state == State.ISSUED:
        service.enqueue(session, JOB_FOLLOW, document_id=doc.id, payload={"request_id": row.id}, max_attempts=100_000)
    elif doc.state in (State.QUEUED, State.RECEIVED, State.SUBMITTING, State.IN_DOUBT):
        service.enqueue(session, JOB_REGISTER, document_id=doc.id)
