"""The ``[schedule]`` and ``[alerts]`` sections, declared once: their keys, the per-duty tables
(``[schedule.<duty>]``) and the per-rule tables (``[alerts.<rule>]``) with each one's own options.

Kept free of heavy imports: `pasarela.core.sections` loads it to write and check the file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import create_model

from pasarela.core.config_model import Section, secret, setting

# Each duty's own options with their defaults (the duties read them from here).
DUTY_OPTIONS: dict[str, dict[str, Any]] = {
    "cl_reconcile": {},
    "pe_summary": {"deadline_days": 7},
    "pe_tickets": {},
    "pe_summary_warning": {"warn_days": 5, "deadline_days": 7},
    "mx_payments_sync": {},
    "mx_cfdi_month_to_date": {"directions": ["issued", "received"], "kinds": ["xml", "metadata"]},
    "mx_cfdi_previous_month": {"directions": ["issued", "received"], "kinds": ["xml", "metadata"]},
    "bo_day_close": {},
    "certificates": {"days": [30, 7, 1]},
    "stuck_documents": {"minutes": 60},
    "artifacts_retry": {"rounds": 24},
    "alerts_evaluate": {},
}

# Each alert rule's thresholds with their defaults (the rules read them from here).
RULE_OPTIONS: dict[str, dict[str, Any]] = {
    "documents": {"states": ["needs_attention", "in_doubt", "failed"], "max_listed": 500},
    "provider_failures": {"window_minutes": 5.0, "min_calls": 3, "failure_percent": 50.0, "recover_calls": 2},
    "duty_failed": {},
    "duty_found": {},
    "certificate_expiry": {},
    "summary_deadline": {},
    "mysuite_stuck": {"hours": 72.0},
}


class DutyBase(Section):
    enabled: bool | None = None
    cadence: str | None = None
    catch_up: Literal["each", "once"] | None = None
    timezone: str | None = None


class RuleBase(Section):
    enabled: bool | None = None


def _table(name: str, base: type[Section], options: dict[str, Any]) -> type[Section]:
    fields: dict[str, Any] = {key: (type(value) | None, None) for key, value in options.items()}
    return create_model(name, __base__=base, **fields)  # type: ignore[call-overload, no-any-return]


def _tables(base: type[Section], options: dict[str, dict[str, Any]], suffix: str) -> dict[str, Any]:
    return {
        name: (_table(f"{name}_{suffix}", base, opts) | None, setting(None, hidden=True))
        for name, opts in options.items()
    }


class _ScheduleKeys(Section):
    """Agenda: las tareas periódicas que hacen los workers (docs/schedule.md las lista todas)."""

    enabled: bool = setting(True, "false: ninguna tarea periódica (cada una se apaga en [schedule.<tarea>]).")
    tick_seconds: float = setting(5.0, "Segundos entre miradas de los workers a la agenda.", gt=0)
    max_catch_up: int = setting(24, "Tras una caída: turnos perdidos que se recuperan, como máximo.", ge=0)
    catch_up_hours: float = setting(72.0, "…y ninguno más antiguo que estas horas.", gt=0)


class _AlertsKeys(Section):
    """Alertas por correo (con [smtp]) y webhook firmado; reglas en [alerts.<regla>] (docs/schedule.md)."""

    email_to: str | list[str] = setting("", "Una dirección o una lista; vacío: sin correo.")
    webhook_url: str = setting("", "Webhook firmado (cabeceras webhook-id, webhook-timestamp, webhook-signature).")
    webhook_secret: str = secret("", "Clave HMAC-SHA256 del webhook.", generate="urlsafe24")
    group_minutes: float = setting(5.0, "Un mensaje por regla cada tantos minutos, con la lista.", gt=0)


ScheduleSection: type[Section] = create_model(  # type: ignore[call-overload]
    "ScheduleSection", __base__=_ScheduleKeys, __doc__=_ScheduleKeys.__doc__,
    **_tables(DutyBase, DUTY_OPTIONS, "duty"))
AlertsSection: type[Section] = create_model(  # type: ignore[call-overload]
    "AlertsSection", __base__=_AlertsKeys, __doc__=_AlertsKeys.__doc__, **_tables(RuleBase, RULE_OPTIONS, "rule"))
