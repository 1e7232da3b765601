"""Acceptance 1, in real time: two `pasarela worker` processes on PostgreSQL, a 1-minute cadence for
10 minutes, both stopped for 5 minutes, then restarted. Each slot runs once; after the stop the day close
runs every missed slot once, the reconcile once in total. About 17 minutes, almost all of it asleep."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta

import pytest
from schedule_testkit import only_duties
from sqlalchemy import func, select

from conftest import LiveServer
from pasarela.ledger.models import Job, ProviderCall
from pasarela.schedule.models import ScheduleRun

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(1500)]
EVERY_MINUTE = {"cl_reconcile": "* * * * *", "bo_day_close": "* * * * *"}


def _runs(live: LiveServer, duty: str) -> list[ScheduleRun]:
    with live.rt.db.transaction() as session:
        return list(session.scalars(select(ScheduleRun).where(ScheduleRun.duty == duty)
                                    .order_by(ScheduleRun.slot_start)).all())


def _minutes(runs: list[ScheduleRun]) -> list[datetime]:
    return [r.slot_start for r in runs]


def _consecutive(slots: list[datetime]) -> bool:
    return all(b - a == timedelta(minutes=1) for a, b in zip(slots, slots[1:], strict=False))


def _every_job_ran_once(live: LiveServer, runs: list[ScheduleRun]) -> None:
    with live.rt.db.transaction() as session:
        for run in runs:
            job = session.get(Job, run.job_id)
            assert job is not None and job.state == "done" and job.attempts == 1, (run.slot, job and job.attempts)
            assert run.state in ("ok", "found"), (run.slot, run.state, run.error)


def _sleep_until(moment: float) -> None:
    while (left := moment - time.monotonic()) > 0:
        time.sleep(min(left, 5))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_workers_run_each_slot_once_and_catch_up_per_duty(server_factory: LiveServer) -> None:
    env = only_duties(EVERY_MINUTE)
    server_factory.start(workers=0, **env)  # the simulators only: the schedule lives in the workers
    workers = [server_factory.start_worker(threads=2), server_factory.start_worker(threads=2)]
    started = time.monotonic()
    _sleep_until(started + 600)

    for duty in EVERY_MINUTE:
        runs = [r for r in _runs(server_factory, duty) if r.state not in ("pending", "running")]
        slots = _minutes(runs)
        assert 9 <= len(slots) <= 11, (duty, slots)
        assert len(set(slots)) == len(slots) and _consecutive(slots), (duty, slots)
        assert all(r.trigger == "schedule" and r.missed == 0 for r in runs)
        _every_job_ran_once(server_factory, runs)
    with server_factory.rt.db.transaction() as session:
        reports = session.scalar(select(func.count()).where(ProviderCall.operation == "reportecobranzas"))
    assert reports == len(_runs(server_factory, "bo_day_close"))  # one Cooplan report per slot, not two

    for proc in workers:
        server_factory.kill(proc, signal.SIGTERM)
    before = {duty: _minutes(_runs(server_factory, duty)) for duty in EVERY_MINUTE}
    stopped = time.monotonic()
    _sleep_until(stopped + 300)
    for _ in range(2):
        server_factory.start_worker(threads=2)
    _sleep_until(time.monotonic() + 45)

    closes = _runs(server_factory, "bo_day_close")
    new = [r for r in closes if r.slot_start > before["bo_day_close"][-1]]
    assert _consecutive(_minutes(closes)) and len(set(_minutes(closes))) == len(closes)
    caught_up = [r for r in new if r.trigger == "catch_up"]
    assert 4 <= len(caught_up) <= 6, [(r.slot, r.trigger) for r in new]  # every missed minute, once each
    _every_job_ran_once(server_factory, [r for r in closes if r.state not in ("pending", "running")])

    reconciles = _runs(server_factory, "cl_reconcile")
    after = [r for r in reconciles if r.slot_start > before["cl_reconcile"][-1]]
    folded = [r for r in after if r.trigger == "catch_up"]
    assert len(folded) == 1 and 4 <= folded[0].missed + 1 <= 6, [(r.slot, r.trigger, r.missed) for r in after]
    assert len(after) <= 2  # the one catch-up run, and perhaps the next regular minute
    _every_job_ran_once(server_factory, [r for r in reconciles if r.state not in ("pending", "running")])
