"""Helpers for the schedule's tests: the schedule switched on with only the duties a test names."""

from __future__ import annotations

from pasarela.schedule.duties import DUTIES


def only_duties(cadences: dict[str, str], tick_seconds: float = 2.0) -> dict[str, str]:
    """Environment for a gateway whose schedule runs just these duties at these cadences."""
    env = {"PASARELA_SCHEDULE__ENABLED": "true", "PASARELA_SCHEDULE__TICK_SECONDS": str(tick_seconds)}
    for name in DUTIES:
        if name in cadences:
            env[f"PASARELA_SCHEDULE__{name.upper()}__CADENCE"] = cadences[name]
        else:
            env[f"PASARELA_SCHEDULE__{name.upper()}__ENABLED"] = "false"
    return env
