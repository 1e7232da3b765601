"""The schedule: the workers look at it every few seconds (`tick`) and write one run + one job per due
slot, in one transaction, under a unique (duty, slot) key — two workers looking at once make one run.

Catch-up after downtime follows the duty: ``each`` runs every missed slot once (a day close per missed
day), ``once`` folds them into one run (a reconcile covers everything at once)."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pasarela.core.errors import InvalidInput, NotFound, PasarelaError
from pasarela.ledger import service
from pasarela.ledger.models import Job
from pasarela.runtime import Runtime
from pasarela.schedule.cadence import Cadence
from pasarela.schedule.duties import DUTIES, Duty, DutyOutcome, Slot
from pasarela.schedule.jobs import RUN_JOB
from pasarela.schedule.models import ScheduleDuty, ScheduleRun

log = logging.getLogger("pasarela.schedule")
SCHEDULED = ("schedule", "catch_up")
FINISHED = ("ok", "found", "failed")


@dataclass(frozen=True)
class DutyConfig:
    duty: Duty
    enabled: bool
    cadence: Cadence
    catch_up: str
    options: dict[str, Any]


def flag(value: Any) -> bool:
    """A switch from TOML (a bool) or from the environment (text)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "si", "sí")
    return bool(value)


def duty(name: str) -> Duty:
    found = DUTIES.get(name.replace("-", "_"))
    if found is None:
        raise NotFound(f"no hay una tarea {name!r}; tareas: {', '.join(DUTIES)}")
    return found


def duty_config(rt: Runtime, spec: Duty) -> DutyConfig:
    """The duty's defaults with ``[schedule.<name>]`` on top (enabled, cadence, catch_up, timezone, options)."""
    conf = rt.settings.section(f"schedule.{spec.name}") or {}
    catch_up = str(conf.get("catch_up", spec.catch_up))
    if catch_up not in ("each", "once"):
        raise InvalidInput(f"[schedule.{spec.name}] catch_up debe ser 'each' u 'once'", "catch_up")
    options = {k: conf.get(k, v) for k, v in spec.options.items()}
    return DutyConfig(
        duty=spec,
        enabled=flag(conf.get("enabled", True)),
        cadence=Cadence(str(conf.get("cadence", spec.cadence)), str(conf.get("timezone", spec.zone))),
        catch_up=catch_up,
        options=options,
    )


def _duty_row(session: Session, name: str, now: datetime) -> ScheduleDuty:
    row = session.get(ScheduleDuty, name)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ScheduleDuty(name=name, since=now)
            session.add(row)
            session.flush()
            return row
    except IntegrityError:  # another worker saw it first
        found = session.get(ScheduleDuty, name)
        assert found is not None
        return found


def _insert_run(session: Session, name: str, slot: str, start: datetime, trigger: str, missed: int = 0,
                with_job: bool = True) -> int | None:
    """The run and its job in one savepoint; None when the slot was taken already (by another worker)."""
    try:
        with session.begin_nested():
            run = ScheduleRun(duty=name, slot=slot, slot_start=start, trigger=trigger, missed=missed,
                              found=[], data={})
            session.add(run)
            session.flush()
            if with_job:
                run.job_id = service.enqueue(session, RUN_JOB, payload={"run_id": run.id}, max_attempts=3).id
            return run.id
    except IntegrityError:
        return None


def tick(rt: Runtime, now: datetime | None = None) -> list[int]:
    """Write the runs now due; returns their ids (empty when another worker already wrote them).
    One short transaction when nothing is due (every few seconds, in every worker process)."""
    if not rt.settings.get("schedule.enabled", True):
        return []
    now = now or datetime.now(UTC)
    configs = [duty_config(rt, spec) for spec in DUTIES.values()]
    with rt.db.transaction() as session:
        rows = {r.name: r for r in session.scalars(select(ScheduleDuty)).all()}
        last = dict(session.execute(
            select(ScheduleRun.duty, func.max(ScheduleRun.slot_start))
            .where(ScheduleRun.trigger.in_(SCHEDULED)).group_by(ScheduleRun.duty)).all())
        plans = [(conf, _due(rt, conf, rows[conf.duty.name], last.get(conf.duty.name), now))
                 for conf in configs if conf.duty.name in rows]
        for conf in configs:
            if conf.duty.name not in rows:
                _duty_row(session, conf.duty.name, now)  # first look: watched from now on
    created: list[int] = []
    for conf, (due, missed) in plans:
        if not due:
            continue
        with rt.db.transaction() as session:
            for index, start in enumerate(due):
                trigger = "catch_up" if missed or index < len(due) - 1 else "schedule"
                run_id = _insert_run(session, conf.duty.name, start.isoformat(), start, trigger, missed)
                if run_id is not None:
                    created.append(run_id)
    return created


def _due(rt: Runtime, conf: DutyConfig, row: ScheduleDuty, last: datetime | None,
         now: datetime) -> tuple[list[datetime], int]:
    """The slots to write for one duty, and how many missed ones a once-in-total run stands for."""
    if not (conf.enabled if row.enabled is None else row.enabled):
        return [], 0
    limit = int(rt.settings.get("schedule.max_catch_up", 24))
    window = timedelta(hours=float(rt.settings.get("schedule.catch_up_hours", 72)))
    since = max(row.since, last or row.since, now - window)
    due = conf.cadence.due(since, now, limit)
    if conf.catch_up == "once" and len(due) > 1:
        return due[-1:], len(due) - 1
    return due, 0


def queue_now(rt: Runtime, name: str) -> int:
    """`schedule run` through the API: one run now, done by a worker."""
    spec = duty(name)
    now = datetime.now(UTC)
    with rt.db.transaction() as session:
        run_id = _insert_run(session, spec.name, f"manual:{now.isoformat()}:{uuid.uuid4().hex[:6]}", now, "manual")
    assert run_id is not None
    return run_id


def run_now(rt: Runtime, name: str) -> dict[str, Any]:
    """`schedule run NAME` in the CLI: one run now, in this process, recorded like every other."""
    spec = duty(name)
    now = datetime.now(UTC)
    with rt.db.transaction() as session:
        run_id = _insert_run(session, spec.name, f"manual:{now.isoformat()}:{uuid.uuid4().hex[:6]}", now, "manual",
                             with_job=False)
    assert run_id is not None
    execute(rt, run_id)
    from pasarela.schedule.views import run_dict

    return run_dict(rt, run_id)


def execute(rt: Runtime, run_id: int) -> None:
    """Do one run: mark it started, call the duty, record what it did and found (secrets redacted)."""
    with rt.db.transaction() as session:
        run = session.get(ScheduleRun, run_id)
        if run is None or run.state in FINISHED:
            return  # done already: a job claimed twice does nothing twice
        run.state, run.started_at = "running", datetime.now(UTC)
        name, start = run.duty, run.slot_start
    spec = DUTIES.get(name)
    outcome = _call(rt, spec, start) if spec else DutyOutcome("", error=f"tarea desconocida {name!r}")
    redact = rt.redactor.text
    with rt.db.transaction() as session:
        run = session.get(ScheduleRun, run_id)
        assert run is not None
        run.finished_at = datetime.now(UTC)
        run.summary = redact(outcome.summary)[:4000]
        run.found = [{k: redact(v) if isinstance(v, str) else v for k, v in item.items()} for item in outcome.found]
        run.data = outcome.data
        run.error = redact(outcome.error)[:4000]
        run.state = "failed" if outcome.error else ("found" if outcome.found else "ok")
    if spec is not None and spec.alert_rule:
        _tell(rt, [spec.alert_rule, "duty_failed"])


def _tell(rt: Runtime, rules: list[str]) -> None:
    """A run's findings and failure are judged at once (not at the next evaluation, when a later run
    may already have replaced them)."""
    from pasarela.alerts.engine import evaluate

    try:
        evaluate(rt, rules=rules)
    except Exception:  # noqa: BLE001 - the run is recorded; the next evaluation tries again
        log.error("alerts after a run failed: %s", traceback.format_exc())


def _call(rt: Runtime, spec: Duty, start: datetime) -> DutyOutcome:
    conf = duty_config(rt, spec)
    try:
        outcome = spec.run(rt, Slot(start, conf.cadence.zone), conf.options)
    except PasarelaError as exc:
        return DutyOutcome("", error=exc.message)
    except Exception as exc:  # noqa: BLE001 - a duty's failure is recorded and alerted, never lost
        log.error("duty %s failed: %s", spec.name, traceback.format_exc())
        return DutyOutcome("", error=f"{type(exc).__name__}: {exc}")
    if outcome.data:
        outcome.data = _jsonable(outcome.data)
    return outcome


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def run_job(rt: Runtime, job: Job) -> None:
    """The worker's entry point. The lease is kept alive while the duty works, so a long run (a big
    reconcile) is never taken over and run a second time by another worker."""
    lease = float(rt.settings.get("worker.lease_seconds", 60))
    done = threading.Event()

    def keep_lease() -> None:
        while not done.wait(lease / 3):
            try:
                with rt.db.transaction() as session:
                    service.extend_lease(session, job.id, str(job.lease_owner), lease)
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("could not extend the lease of job %s", job.id)

    beat = threading.Thread(target=keep_lease, name=f"lease-{job.id}", daemon=True)
    if job.lease_owner:
        beat.start()
    try:
        execute(rt, int(job.payload["run_id"]))
    finally:
        done.set()
        if beat.is_alive():
            beat.join(5)


def set_enabled(rt: Runtime, name: str, enabled: bool, actor: str = "cli") -> dict[str, Any]:
    """`schedule disable|enable NAME`: stored in the ledger, so every worker obeys at its next look."""
    spec = duty(name)
    now = datetime.now(UTC)
    with rt.db.transaction() as session:
        row = _duty_row(session, spec.name, now)
        if enabled and row.enabled is False:
            row.since = now  # switched back on: the slots it was off for are not replayed
        row.enabled, row.changed_by = enabled, actor
    from pasarela.schedule.views import overview

    return next(d for d in overview(rt) if d["name"] == spec.name)


class Ticker:
    """The thread in each worker process that looks at the schedule."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.interval = float(rt.settings.get("schedule.tick_seconds", 5))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="schedule-ticker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                tick(self.rt)
            except Exception:  # noqa: BLE001 - e.g. the database briefly unreachable: look again later
                log.error("schedule tick failed: %s", traceback.format_exc())
            self.stopping.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

