"""The one Spanish word a person reads for each machine value (DESIGN.md: "states have one Spanish
label each, defined once"). The API keeps the machine values; the console, the CLI tables, the PDFs and
the e-mails show these."""

from __future__ import annotations

STATE_LABELS: dict[str, str] = {
    "received": "recibido",
    "queued": "en cola",
    "submitting": "enviando",
    "issued": "emitido",
    "needs_attention": "requiere atención",
    "in_doubt": "en duda",
    "rejected": "rechazado",
    "failed": "fallido",
    "skipped": "omitido",
    "paid": "pagado",
    "voided": "anulado",
    "reversed": "revertido",
    "deleted": "eliminado",
    "pending": "pendiente",
}

EVENT_STATUS_LABELS: dict[str, str] = {
    "accepted": "aceptado",
    "duplicate": "duplicado",
    "ignored": "ignorado",
    "rejected": "rechazado",
}

JOB_STATE_LABELS: dict[str, str] = {
    "pending": "pendiente",
    "running": "en curso",
    "done": "terminado",
    "dead": "agotado",
}

# States a person must look at, in the order a dashboard lists them.
ATTENTION_STATES = ("needs_attention", "in_doubt", "failed")


def state_label(state: str | None) -> str:
    """``needs_attention`` → ``requiere atención``; an unknown value is shown as it is."""
    if not state:
        return ""
    return STATE_LABELS.get(str(state), str(state))


def event_status_label(status: str | None) -> str:
    return EVENT_STATUS_LABELS.get(str(status or ""), str(status or ""))


def job_state_label(state: str | None) -> str:
    return JOB_STATE_LABELS.get(str(state or ""), str(state or ""))


# Schedule runs and alerts (pasarela.schedule, pasarela.alerts).
RUN_STATE_LABELS: dict[str, str] = {
    "pending": "pendiente",
    "running": "en curso",
    "ok": "correcta",
    "found": "con hallazgos",
    "failed": "fallida",
}

ALERT_STATE_LABELS: dict[str, str] = {
    "open": "abierta",
    "resolved": "resuelta",
}


def run_state_label(state: str | None) -> str:
    return RUN_STATE_LABELS.get(str(state or ""), str(state or ""))


def alert_state_label(state: str | None) -> str:
    return ALERT_STATE_LABELS.get(str(state or ""), str(state or ""))
