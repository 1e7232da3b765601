"""The job kinds the schedule and the alerts add to every worker."""

from __future__ import annotations

from typing import Any


def _run(rt: Any, job: Any) -> None:
    from pasarela.schedule.engine import run_job

    run_job(rt, job)


def _deliver(rt: Any, job: Any) -> None:
    from pasarela.alerts.channels import deliver_job

    deliver_job(rt, job)


RUN_JOB = "schedule.run"
DELIVER_JOB = "alerts.deliver"
JOB_HANDLERS = {RUN_JOB: _run, DELIVER_JOB: _deliver}
