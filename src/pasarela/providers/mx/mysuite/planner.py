"""Plans SAT requests from a user's ask and keeps the never-twice registry.

The SAT lets a period be asked twice in a lifetime (5002 after that) and refuses a duplicate while
one is active (5005), so every period we ever asked is recorded. An ask is cut down to the days no
earlier request holds — one request or several, overlapping it in any way — and only those are asked;
the held part is reported with the request that holds it. ``force`` asks the whole range again.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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


# A request in these states brought none of its days: they are still missing.
NOT_HOLDING = ("rejected", "failed", "too_large")
Days = tuple[date, date]


def held_days(row: SatRequest) -> Days | None:
    """The whole days a request covers (a period starting after 00:00:00 does not hold its first day)."""
    fi = datetime.strptime(row.fecha_inicial, tx.DATE_FORMAT)
    ff = datetime.strptime(row.fecha_final, tx.DATE_FORMAT)
    first = fi.date() if fi.time() == time.min else fi.date() + timedelta(days=1)
    last = ff.date() if ff.time() >= time(23, 59, 59) else ff.date() - timedelta(days=1)
    return (first, last) if first <= last else None


def missing_days(start: date, end: date, held: list[Days]) -> list[Days]:
    """[start, end] minus every held range: the gaps, in order."""
    gaps: list[Days] = []
    cursor = start
    for first, last in sorted(held):
        if last < cursor or first > end:
            continue
        if first > cursor:
            gaps.append((cursor, first - timedelta(days=1)))
        cursor = max(cursor, last + timedelta(days=1))
        if cursor > end:
            return gaps
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def _overlapping(session: Session, rfc: str, ask: Ask) -> list[SatRequest]:
    fi = datetime.combine(ask.start, time.min).strftime(tx.DATE_FORMAT)
    ff = datetime.combine(ask.end, time(23, 59, 59)).strftime(tx.DATE_FORMAT)
    return list(session.scalars(
        select(SatRequest).where(
            SatRequest.rfc == rfc, SatRequest.servicio == ask.servicio, SatRequest.direccion == ask.direccion,
            SatRequest.tipo == ask.tipo, SatRequest.fecha_inicial <= ff, SatRequest.fecha_final >= fi,
        ).order_by(SatRequest.id)
    ).all())


def plan(rt: Runtime, ask: Ask) -> PlanResult:
    """Ask the SAT only for the days no earlier request holds (one or several, any overlap); ``force``
    asks the whole range again (the SAT's lifetime limit then applies)."""
    conf = load(rt.settings)
    split = "none" if ask.tipo == "Metadata" else str(conf["split"])
    if ask.force:
        return _plan_forced(rt, conf.rfc, ask, split)
    periods(ask.start, ask.end, split)  # validates the range
    result = PlanResult()
    with rt.db.transaction() as session:
        held: list[Days] = []
        for row in _overlapping(session, conf.rfc, ask):
            days = held_days(row)
            if row.state in NOT_HOLDING or days is None:
                continue
            held.append(days)
            if row.state not in TERMINAL:
                ensure_job(session, row)
                result.resumed.append(row.id)
            else:
                result.refused.append({"period": [row.fecha_inicial, row.fecha_final], "request_id": row.id,
                                       "explanation": explain(row)})
        gaps = missing_days(ask.start, ask.end, held)
    for first, last in gaps:
        for fi, ff in periods(first, last, split):
            with rt.db.transaction() as session:
                exact = _exact(session, conf.rfc, ask, fi, ff)
                if exact and exact[0].state in NOT_HOLDING:
                    # Asked before and refused (e.g. too large): asking the same again needs --force.
                    result.refused.append({"period": [fi, ff], "request_id": exact[0].id,
                                           "explanation": explain(exact[0])})
                    continue
                attempt = max((r.attempt for r in exact), default=0) + 1
                result.created.append(_create(session, conf.rfc, ask, fi, ff, attempt))
    return result


def _exact(session: Session, rfc: str, ask: Ask, fi: str, ff: str) -> list[SatRequest]:
    return list(session.scalars(select(SatRequest).where(
        SatRequest.rfc == rfc, SatRequest.servicio == ask.servicio, SatRequest.direccion == ask.direccion,
        SatRequest.tipo == ask.tipo, SatRequest.fecha_inicial == fi, SatRequest.fecha_final == ff,
    ).order_by(SatRequest.attempt.desc(), SatRequest.id.desc())).all())


def _plan_forced(rt: Runtime, rfc: str, ask: Ask, split: str) -> PlanResult:
    result = PlanResult()
    for fi, ff in periods(ask.start, ask.end, split):
        with rt.db.transaction() as session:
            attempt = max((r.attempt for r in _exact(session, rfc, ask, fi, ff)), default=0) + 1
            result.created.append(_create(session, rfc, ask, fi, ff, attempt))
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
