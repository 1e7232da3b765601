"""Helpers shared by CLI commands: runtime, output as tables or JSON, waiting on documents."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from pasarela.config import load_settings
from pasarela.ledger.migrate import ensure_current
from pasarela.runtime import Runtime

# Piped output (scripts, logs, tests) gets a wide table instead of the 80-column fallback.
console = Console() if Console().is_terminal else Console(width=160)
err_console = Console(stderr=True)

STATE_STYLES = {
    "issued": "green",
    "paid": "green",
    "queued": "cyan",
    "received": "cyan",
    "submitting": "yellow",
    "in_doubt": "bold magenta",
    "needs_attention": "bold yellow",
    "rejected": "red",
    "failed": "bold red",
    "skipped": "dim",
}


@cache
def runtime() -> Runtime:
    """The CLI's runtime: config loaded (created on first use) and the schema up to date."""
    rt = Runtime.from_settings(load_settings())
    ensure_current(rt.db)
    return rt


def styled_state(state: str) -> str:
    style = STATE_STYLES.get(state, "")
    return f"[{style}]{state}[/{style}]" if style else state


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None) -> None:
    table = Table(title=title, caption=caption, header_style="bold")
    for column in columns:
        short = column in ("id", "estado", "state", "folio/ref", "folio")
        table.add_column(column, no_wrap=short, overflow="fold", max_width=48)
    for row in rows:
        table.add_row(
            *[
                styled_state(str(v)) if columns[i] in ("estado", "state") else ("" if v is None else str(v))
                for i, v in enumerate(row)
            ]
        )
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


def wait_settled(rt: Runtime, doc_ids: list[int], timeout: float, settled: set[str]) -> dict[int, str]:
    """Poll the ledger until every document reaches a settled state or the timeout passes."""
    from pasarela.ledger.models import Document

    deadline = time.monotonic() + timeout
    states: dict[int, str] = {}
    while True:
        with rt.db.transaction() as session:
            for doc_id in doc_ids:
                doc = session.get(Document, doc_id)
                states[doc_id] = doc.state if doc else "missing"
        if all(s in settled for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.1)
