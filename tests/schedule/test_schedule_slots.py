"""Slot arithmetic with explicit moments, and the ledger's one-run-per-slot on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pasarela.core.errors import InvalidInput, NotFound
from pasarela.ledger.models import Job
from pasarela.runtime import Runtime
from pasarela.schedule import engine, views
from pasarela.schedule.cadence import Cadence
from pasarela.schedule.duties import DUTIES
from pasarela.schedule.models import ScheduleRun

T0 = datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC)


def test_cron_slots_are_read_in_the_duty_zone() -> None:
    close = Cadence("0 23 * * *", "America/La_Paz")  # UTC-4 all year
    assert close.next_after(T0) == datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert close.previous(T0) == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    santiago = Cadence("0 9 * * *", "America/Santiago")  # summer time in December (UTC-3), winter UTC-4
    assert santiago.next_after(T0).hour == 12
    assert santiago.next_after(datetime(2026, 7, 1, tzinfo=UTC)).hour == 13


def test_due_slots_oldest_first_and_capped() -> None:
    minute = Cadence("* * * * *", "UTC")
    slots = minute.due(T0 - timedelta(minutes=5), T0, limit=100)
    assert [s.minute for s in slots] == [56, 57, 58, 59, 0]
    assert minute.due(T0 - timedelta(days=30), T0, limit=3)[-1] == T0.replace(second=0)
    assert len(minute.due(T0 - timedelta(days=30), T0, limit=3)) == 3
    every = Cadence("every 15m", "America/Santiago")
    assert [s.minute for s in every.due(T0 - timedelta(hours=1), T0, 10)] == [15, 30, 45, 0]


def test_a_bad_cadence_or_zone_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="cadencia inválida"):
        Cadence("cada martes", "UTC")
    with pytest.raises(InvalidInput, match="zona horaria"):
        Cadence("* * * * *", "America/Narnia")


@pytest.fixture
def sched(rt: Runtime) -> Runtime:
    """Only `stuck_documents` (catch-up once) and `certificates` (set to catch up each), every minute."""
    rt.settings.raw["schedule"]["enabled"] = True
    for name in DUTIES:
        rt.settings.raw["schedule"][name] = {"enabled": False}
    rt.settings.raw["schedule"]["stuck_documents"] = {"cadence": "* * * * *"}
    rt.settings.raw["schedule"]["certificates"] = {"cadence": "* * * * *", "catch_up": "each"}
    return rt


def _runs(rt: Runtime, duty: str) -> list[ScheduleRun]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(ScheduleRun).where(ScheduleRun.duty == duty)
                                    .order_by(ScheduleRun.slot_start)).all())


def test_first_look_replays_nothing_then_one_run_per_slot(sched: Runtime) -> None:
    assert engine.tick(sched, T0) == []  # the schedule starts watching now: no past slot is run
    created = engine.tick(sched, T0 + timedelta(seconds=40))
    assert len(created) == 2 and engine.tick(sched, T0 + timedelta(seconds=45)) == []
    runs = _runs(sched, "stuck_documents")
    assert [r.slot_start for r in runs] == [datetime(2026, 12, 4, 12, 1, tzinfo=UTC)]
    with sched.db.transaction() as session:
        job = session.get(Job, runs[0].job_id)
        assert job is not None and job.kind == "schedule.run" and job.payload == {"run_id": runs[0].id}


def test_catch_up_each_runs_every_missed_slot_once_in_total_folds_them(sched: Runtime) -> None:
    engine.tick(sched, T0)
    engine.tick(sched, T0 + timedelta(minutes=1))
    engine.tick(sched, T0 + timedelta(minutes=7))  # six slots missed (workers down)
    each = _runs(sched, "certificates")
    assert [r.slot_start.minute for r in each] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.trigger for r in each[1:]] == ["catch_up"] * 5 + ["schedule"]
    once = _runs(sched, "stuck_documents")
    assert [(r.slot_start.minute, r.trigger, r.missed) for r in once] == [(1, "schedule", 0), (7, "catch_up", 5)]


def test_many_workers_looking_at_once_write_one_run_per_slot(sched: Runtime) -> None:
    engine.tick(sched, T0)
    barrier = threading.Barrier(6)

    def look() -> None:
        barrier.wait()
        engine.tick(sched, T0 + timedelta(minutes=3))

    threads = [threading.Thread(target=look) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    each = _runs(sched, "certificates")
    assert [r.slot_start.minute for r in each] == [1, 2, 3]
    with sched.db.transaction() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "schedule.run")).all()
    assert len(jobs) == len(each) + len(_runs(sched, "stuck_documents")) == 4


def test_a_run_records_what_it_did_and_a_second_execution_does_nothing(sched: Runtime) -> None:
    engine.tick(sched, T0)
    engine.tick(sched, T0 + timedelta(minutes=1))
    run = _runs(sched, "stuck_documents")[0]
    engine.execute(sched, run.id)
    done = views.run_dict(sched, run.id)
    assert done["state"] == "ok" and "detenido" in done["summary"] and done["finished_at"]
    engine.execute(sched, run.id)
    assert views.run_dict(sched, run.id)["finished_at"] == done["finished_at"]


def test_a_failing_duty_is_recorded_as_failed_with_its_reason(sched: Runtime) -> None:
    # Nothing listens at the Cooplan simulator's address: the day close cannot be compared.
    result = engine.run_now(sched, "bo_day_close")
    assert result["state"] == "failed" and "reportecobranzas" in result["error"]
    assert result["trigger"] == "manual"


def test_disable_is_obeyed_by_every_look_and_enable_does_not_replay(sched: Runtime) -> None:
    engine.tick(sched, T0)
    engine.set_enabled(sched, "stuck-documents", False)
    engine.tick(sched, T0 + timedelta(minutes=2))
    assert _runs(sched, "stuck_documents") == []
    item = engine.set_enabled(sched, "stuck_documents", True)
    assert item["enabled"] and item["changed_by"] == "cli"
    engine.tick(sched, T0 + timedelta(minutes=3))  # switched on again just now: the slots it was off are not run
    assert _runs(sched, "stuck_documents") == []
    with pytest.raises(NotFound, match="no hay una tarea"):
        engine.set_enabled(sched, "nope", False)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pasarela", *args], capture_output=True, text=True, timeout=120)


def test_schedule_list_shows_every_duty_with_its_last_and_next_run(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASARELA_SCHEDULE__ENABLED", "true")
    ran = _cli("schedule", "run", "stuck_documents")
    assert ran.returncode == 0 and "correcta" in ran.stdout, ran.stderr
    listed = _cli("schedule", "list", "--json")
    items = json.loads(listed.stdout)
    assert [i["name"] for i in items] == list(DUTIES)
    stuck = next(i for i in items if i["name"] == "stuck_documents")
    assert stuck["last_run"]["state"] == "ok"
    assert all(i["next_run"] and i["next_run_text"] for i in items)
    table = _cli("schedule", "list")
    for name in DUTIES:
        assert name in table.stdout
    assert "próxima" in table.stdout and "última" in table.stdout and "(correcta)" in table.stdout
    off = _cli("schedule", "disable", "cl_reconcile")
    assert off.returncode == 0 and "desactivada" in off.stdout
    assert not next(i for i in json.loads(_cli("schedule", "list", "--json").stdout)
                    if i["name"] == "cl_reconcile")["enabled"]
    unknown = _cli("schedule", "run", "nope")
    assert unknown.returncode == 1 and "no hay una tarea" in unknown.stderr
    assert "Agenda" in _cli("schedule", "--help").stdout
