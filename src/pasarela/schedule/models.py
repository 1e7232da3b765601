"""The schedule's ledger tables: one row per duty (switched on or off, since when it is watched) and one
per run. A run's (duty, slot) is unique and is inserted in the same transaction as the job that does the
work, so each slot runs once however many workers look at the schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pasarela.ledger.models import Base, Id, utcnow


class ScheduleDuty(Base):
    __tablename__ = "schedule_duties"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # None: as the configuration says; False: switched off by `schedule disable`; True: switched on again.
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(64), default="")
    # Slots before this moment are never run (the first look at a duty does not replay its past).
    since: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleRun(Base):
    __tablename__ = "schedule_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    duty: Mapped[str] = mapped_column(String(64))
    # ISO start of the slot ("2026-12-04T23:00:00+00:00") or "manual:<moment>" for `schedule run`.
    slot: Mapped[str] = mapped_column(String(64))
    slot_start: Mapped[datetime] = mapped_column()
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | catch_up | manual
    # Slots skipped by a once-in-total catch-up, folded into this run.
    missed: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | ok | found | failed
    summary: Mapped[str] = mapped_column(Text, default="")
    found: Mapped[list[Any]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("duty", "slot", name="uq_schedule_runs_slot"),
        Index("ix_schedule_runs_duty_start", "duty", "slot_start"),
    )
