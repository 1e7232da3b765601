"""The worker's backoff: a provider's Retry-After is a floor, never a way to spend every attempt in seconds."""

from __future__ import annotations

from datetime import timedelta

from pasarela.flow import RetryJob
from pasarela.ledger import service
from pasarela.ledger.models import Job, utcnow
from pasarela.runtime import Runtime
from pasarela.worker import Worker


def _run_one(rt: Runtime, error: RetryJob, attempts_before: int) -> float:
    """Run one job that raises ``error``; seconds until it may run again."""
    with rt.db.transaction() as session:
        job = service.enqueue(session, "prueba.retry")
        job.attempts = attempts_before
        job_id = job.id
    worker = Worker(rt)

    def handler(_rt: Runtime, _job: Job) -> None:
        raise error

    worker.handlers = {"prueba.retry": handler}
    started = utcnow()
    assert worker.run_once()
    with rt.db.transaction() as session:
        current = session.get(Job, job_id)
        assert current is not None and current.state == "pending"
        return (current.run_after - started) / timedelta(seconds=1)


def test_retry_after_is_a_floor_under_the_exponential_backoff(rt: Runtime) -> None:
    # Attempt 5 (after 4): backoff 2**5 = 32 s; Facto's simulator says Retry-After: 1.
    assert 31 < _run_one(rt, RetryJob("no disponible", 1.0, at_least=True), 4) < 34
    # A longer Retry-After than the backoff wins.
    assert 119 < _run_one(rt, RetryJob("no disponible", 120.0, at_least=True), 0) < 122


def test_a_polling_delay_is_the_wait(rt: Runtime) -> None:
    assert 0 < _run_one(rt, RetryJob("ticket 98 en proceso", 1.0), 4) < 2
