"""`pasarela pe …`: issue, void, summary, pdf."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pasarela.cli.common import console, fail, print_json, print_table, runtime, wait_settled
from pasarela.core.errors import PasarelaError
from pasarela.operations import get_document

SETTLED = {"issued", "rejected", "needs_attention", "failed", "skipped", "voided"}


def setup(group: Callable[..., typer.Typer]) -> None:
    pe = group("pe")
    pe.info.help = "Perú: facturas, boletas y notas UBL 2.1 firmadas y enviadas a Bizlinks OSE; resúmenes y bajas."

    @pe.command("issue")
    def issue(
        file: Annotated[
            Path,
            typer.Argument(help="JSON con un documento o una lista (ver docs/peru.md)", exists=True, dir_okay=False),
        ],
        wait: Annotated[bool, typer.Option(help="Esperar hasta que cada documento quede emitido o rechazado")] = True,
        timeout: Annotated[float, typer.Option(help="Segundos de espera")] = 60.0,
        as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False,
    ) -> None:
        """Emitir comprobantes (01 factura, 03 boleta, 07 nota de crédito, 08 nota de débito) desde JSON."""
        from pasarela.providers.pe.bizlinks.config import pe_config
        from pasarela.providers.pe.bizlinks.ledger import create_document

        try:
            payload = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"{file}: no es JSON válido ({exc})")
        rt = runtime()
        config = pe_config(rt.settings)
        items = payload if isinstance(payload, list) else [payload]
        with console.status(f"registrando {len(items)} documento(s)…"):
            results = [create_document(rt, config, item, source="pe.cli") for item in items]
        ids = [r.document_id for r in results if r.ok and r.document_id is not None]
        if wait and ids:
            with console.status("esperando a Bizlinks (el worker de `pasarela serve` los envía)…"):
                wait_settled(rt, ids, timeout, SETTLED)
        rows = _rows(rt, results)
        if as_json:
            print_json(rows)
        else:
            print_table(
                "Comprobantes",
                ["#", "id", "número", "estado", "detalle"],
                [[i + 1, r["id"], r["number"], r["state"], r["reason"]] for i, r in enumerate(rows)],
            )
        if any(not r.ok for r in results):
            raise typer.Exit(2)

    @pe.command("void")
    def void(
        doc_id: Annotated[int, typer.Argument(help="id del documento emitido")],
        reason: Annotated[str, typer.Option("--reason", help="Motivo de la baja")],
        wait: Annotated[bool, typer.Option(help="Esperar el resultado del ticket")] = True,
        timeout: Annotated[float, typer.Option(help="Segundos de espera")] = 120.0,
        as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False,
    ) -> None:
        """Anular un comprobante: comunicación de baja (RA) o resumen con estado 3 (boletas)."""
        from pasarela.providers.pe.bizlinks import flow

        _summary_command(lambda rt: flow.void_document(rt, doc_id, reason), wait, timeout, as_json, [doc_id])

    @pe.command("summary")
    def summary(
        day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Fecha de emisión de las boletas")],
        wait: Annotated[bool, typer.Option(help="Esperar el resultado del ticket")] = True,
        timeout: Annotated[float, typer.Option(help="Segundos de espera")] = 120.0,
        as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False,
    ) -> None:
        """Enviar el resumen diario (RC) de las boletas de una fecha y seguir su ticket."""
        from pasarela.providers.pe.bizlinks import flow

        the_day: date = day.date()
        _summary_command(lambda rt: flow.daily_summary(rt, the_day), wait, timeout, as_json, [])

    @pe.command("pdf")
    def pdf(
        doc_id: Annotated[int, typer.Argument(help="id del documento")],
        output: Annotated[Path | None, typer.Option("-o", "--output", help="Archivo de salida")] = None,
    ) -> None:
        """Guardar la representación impresa (PDF con QR)."""
        from pasarela.providers.pe.bizlinks import delivery

        rt = runtime()
        try:
            name, content = delivery.pdf_for(rt, doc_id)
        except (AssertionError, KeyError):
            fail(f"documento {doc_id} no es un comprobante peruano")
        target = output or Path(name)
        target.write_bytes(content)
        console.print(f"PDF guardado en [bold]{target}[/bold]")


def _summary_command(
    action: Callable[[Any], dict[str, Any]], wait: bool, timeout: float, as_json: bool, targets: list[int]
) -> None:
    rt = runtime()
    try:
        created = action(rt)
    except PasarelaError as exc:
        fail(exc.message)
    doc_id = int(created["document_id"])
    if wait:
        with console.status(f"{created.get('doc_id')}: esperando el ticket…"):
            wait_settled(rt, [doc_id], timeout, SETTLED)
    out = get_document(rt, doc_id)
    if as_json:
        print_json(out)
        return
    print_table(
        "Resumen / baja",
        ["id", "número", "estado", "detalle"],
        [[out["id"], out["provider_ref"], out["state"], out["reason"]]],
    )
    for target in targets:
        t = get_document(rt, target)
        console.print(f"documento {target} ({t['provider_ref']}): {t['state']}")


def _rows(rt: Any, results: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        if not r.ok:
            rows.append({"id": None, "number": "", "state": "invalid", "reason": r.error})
            continue
        d = get_document(rt, r.document_id)
        reason = d["reason"] + (" (ya existía)" if r.duplicate else "")
        rows.append(
            {
                "id": d["id"],
                "number": d["provider_ref"],
                "state": d["state"],
                "reason": reason,
                "cdr_code": (d["result"] or {}).get("cdr_code"),
                "hash": (d["result"] or {}).get("hash"),
            }
        )
    return rows
