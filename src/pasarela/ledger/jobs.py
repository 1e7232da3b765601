"""The job queue in the ledger: jobs are written in the transaction of what causes them, claimed with a
lease (FOR UPDATE SKIP LOCKED on PostgreSQL), and taken over when a worker dies (DESIGN.md "Ledger")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pasarela.ledger.models import Job, utcnow


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
