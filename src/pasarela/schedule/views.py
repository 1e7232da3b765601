"""What a person reads about the schedule — the same for `pasarela schedule list`, `GET /api/schedule`
and the console's dashboard: every duty with its cadence, last run and next run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pasarela.core.formats import datetime_text
from pasarela.core.labels import run_state_label
from pasarela.runtime import Runtime
from pasarela.schedule.duties import DUTIES
from pasarela.schedule.engine import SCHEDULED, duty, duty_config
from pasarela.schedule.models import ScheduleDuty, ScheduleRun

CATCH_UP_LABELS = {"each": "cada turno perdido", "once": "una vez en total"}


def _when(value: datetime | None, country: str, zone: str = "UTC") -> str:
    """In the country's zone and format; a duty of every country in its own zone (UTC by default)."""
    if value is None:
        return ""
    if country:
        return datetime_text(value, country)
    return value.astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M") + (" UTC" if zone == "UTC" else "")


def run_dict(rt: Runtime, run_id: int) -> dict[str, Any]:
    with rt.db.transaction() as session:
        run = session.get(ScheduleRun, run_id)
        assert run is not None
        return _run(run)


def _run(run: ScheduleRun) -> dict[str, Any]:
    spec = DUTIES.get(run.duty)
    country = spec.country if spec else ""
    zone = spec.zone if spec else "UTC"
    return {
        "id": run.id,
        "duty": run.duty,
        "slot": run.slot,
        "slot_start": run.slot_start.isoformat(),
        "trigger": run.trigger,
        "missed": run.missed,
        "state": run.state,
        "state_label": run_state_label(run.state),
        "summary": run.summary,
        "found": run.found,
        "error": run.error,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "started_text": _when(run.started_at, country, zone),
    }


def overview(rt: Runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every duty: cadence and zone, on or off (and who said so), last run, next run."""
    now = now or datetime.now(UTC)
    out = []
    with rt.db.transaction() as session:
        rows = {r.name: r for r in session.scalars(select(ScheduleDuty)).all()}
        for spec in DUTIES.values():
            conf = duty_config(rt, spec)
            row = rows.get(spec.name)
            enabled = conf.enabled if row is None or row.enabled is None else bool(row.enabled)
            last = session.scalar(
                select(ScheduleRun).where(ScheduleRun.duty == spec.name).order_by(ScheduleRun.id.desc()).limit(1)
            )
            last_slot = session.scalar(
                select(ScheduleRun.slot_start).where(ScheduleRun.duty == spec.name, ScheduleRun.trigger.in_(SCHEDULED))
                .order_by(ScheduleRun.slot_start.desc()).limit(1)
            )
            after = max(now, last_slot or now, row.since if row else now)
            on = enabled and rt.settings.get("schedule.enabled", True)
            following = conf.cadence.next_after(after) if on else None
            out.append({
                "name": spec.name,
                "title": spec.title,
                "country": spec.country,
                "cadence": conf.cadence.text,
                "timezone": conf.cadence.zone,
                "catch_up": conf.catch_up,
                "catch_up_label": CATCH_UP_LABELS[conf.catch_up],
                "enabled": enabled,
                "changed_by": row.changed_by if row else "",
                "last_run": _run(last) if last else None,
                "next_run": following.isoformat() if following else None,
                "next_run_text": _when(following, spec.country, conf.cadence.zone),
            })
    return out


def runs(rt: Runtime, name: str, limit: int = 50) -> list[dict[str, Any]]:
    spec = duty(name)
    with rt.db.transaction() as session:
        found = session.scalars(
            select(ScheduleRun).where(ScheduleRun.duty == spec.name).order_by(ScheduleRun.id.desc()).limit(limit)
        ).all()
        return [_run(r) for r in found]
