"""Workers claim jobs with a lease; a dead worker's job is taken over when its lease runs out."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid

from pasarela.core.errors import InvalidInput
from pasarela.flow import RetryJob, mark_failed
from pasarela.ledger import service
from pasarela.ledger.models import Job
from pasarela.plugins import JobHandler, job_handlers
from pasarela.runtime import Runtime
from pasarela.schedule.jobs import JOB_HANDLERS as SCHEDULE_JOB_HANDLERS
from pasarela.schedule.jobs import RUN_JOB

log = logging.getLogger("pasarela.worker")


def all_job_handlers() -> dict[str, JobHandler]:
    """The providers' job kinds and the schedule's and alerts' own."""
    return {**job_handlers(), **SCHEDULE_JOB_HANDLERS}


class Worker:
    def __init__(self, rt: Runtime, name: str | None = None, kinds: list[str] | None = None):
        self.rt = rt
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = float(rt.settings.get("worker.lease_seconds", 60))
        self.poll_interval = float(rt.settings.get("worker.poll_interval", 0.2))
        # `kinds`: only these job kinds (a dedicated pool, e.g. submissions apart from downloads).
        self.handlers = {k: h for k, h in all_job_handlers().items() if not kinds or k in kinds}
        self.stopping = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one job. Returns False when nothing was ready."""
        with self.rt.db.transaction() as session:
            job = service.claim_job(session, self.name, self.lease_seconds, list(self.handlers))
            if job is None:
                return False
            session.flush()
            session.expunge(job)
        self._run(job)
        return True

    def _run(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            handler(self.rt, job)
        except RetryJob as exc:
            self._reschedule(job, str(exc), exc.delay, at_least=exc.at_least)
            return
        except Exception as exc:  # noqa: BLE001 - a job must never take the worker down
            log.error("job %s (%s) failed: %s", job.id, job.kind, traceback.format_exc())
            self._reschedule(job, f"{type(exc).__name__}: {exc}", None)
            return
        with self.rt.db.transaction() as session:
            current = session.get(Job, job.id)
            if current is not None and current.lease_owner == self.name:
                service.finish_job(session, current)

    def _reschedule(self, job: Job, error: str, delay: float | None, *, at_least: bool = False) -> None:
        with self.rt.db.transaction() as session:
            current = session.get(Job, job.id)
            if current is None or current.lease_owner != self.name:
                return  # lease lost: the job belongs to another worker now
            if current.attempts >= current.max_attempts:
                service.finish_job(session, current, "dead", error)
                dead = True
            else:
                backoff = service.backoff_seconds(current.attempts)
                wait = max(delay or 0.0, backoff) if at_least or delay is None else delay
                service.reschedule_job(session, current, wait, error)
                dead = False
        if dead and job.document_id is not None:
            mark_failed(self.rt, job.document_id, f"reintentos agotados: {error}")

    def run_forever(self) -> None:
        log.info("worker %s started", self.name)
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. database briefly unreachable
                log.error("worker loop error: %s", traceback.format_exc())
                worked = False
            if not worked:
                self.stopping.wait(self.poll_interval)

    def stop(self) -> None:
        self.stopping.set()


class WorkerPool:
    """Threads in this process, each a Worker (the API's in-process pool, or `pasarela worker`)."""

    def __init__(self, rt: Runtime, threads: int, kinds: list[str] | None = None):
        unknown = set(kinds or ()) - set(all_job_handlers())
        if unknown:
            known, asked = ", ".join(sorted(all_job_handlers())), ", ".join(sorted(unknown))
            raise InvalidInput(f"tipos de trabajo desconocidos: {asked} (conocidos: {known})", "only")
        self.workers = [Worker(rt, kinds=kinds) for _ in range(threads)]
        self.threads: list[threading.Thread] = []
        # A pool that runs the schedule's jobs also looks at the schedule (writes the runs due).
        self.ticker = None
        if self.workers and RUN_JOB in self.workers[0].handlers:
            from pasarela.schedule.engine import Ticker

            self.ticker = Ticker(rt)

    def start(self) -> None:
        if self.ticker is not None:
            self.ticker.start()
        for worker in self.workers:
            thread = threading.Thread(target=worker.run_forever, name=f"worker-{worker.name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
