"""`pasarela mx download|requests` and `pasarela mx cfdi search|export|summary`."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from pasarela.cli.common import console, fail, print_json, print_table, runtime
from pasarela.core.errors import InvalidInput, ProviderError
from pasarela.providers.mx.cfdi import query
from pasarela.providers.mx.mysuite import planner, views
from pasarela.providers.mx.mysuite.config import load

Rfc = Annotated[str | None, typer.Option("--rfc", help="RFC emisor o receptor")]
Counter = Annotated[str | None, typer.Option("--counterparty", help="RFC o parte del nombre de la contraparte")]
From = Annotated[str | None, typer.Option("--from", help="Emitidos desde AAAA-MM-DD")]
To = Annotated[str | None, typer.Option("--to", help="Emitidos hasta AAAA-MM-DD")]
Tipo = Annotated[str | None, typer.Option("--type", help="I, E, T, N, P o R (retenciones)")]
Status = Annotated[str | None, typer.Option("--status", help="vigente | cancelado")]
Min = Annotated[str | None, typer.Option("--min", help="Total mínimo")]
Max = Annotated[str | None, typer.Option("--max", help="Total máximo")]
Uuid = Annotated[str | None, typer.Option("--uuid", help="Folio fiscal (UUID)")]



def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} debe ser una fecha AAAA-MM-DD, no {value!r}")
        raise


def _progress_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Descarga masiva SAT por MYSuite", header_style="bold")
    for column in ("#", "periodo", "servicio", "dirección", "tipo", "estado", "paquetes", "comprobantes", "detalle"):
        table.add_column(column)
    for r in rows:
        style = {"done": "green", "empty": "dim", "rejected": "red", "failed": "bold red"}.get(r["estado"], "yellow")
        table.add_row(str(r["id"]), f"{r['fecha_inicial'][:10]} → {r['fecha_final'][:10]}", r["servicio"],
                      r["direccion"], r["tipo"], f"[{style}]{r['estado']}[/{style}]",
                      f"{sum(1 for a in r['archivos'] if a['estado'] == 'ingested')}/{r['paquetes']}",
                      str(sum(a["documentos"] for a in r["archivos"])), r["mensaje"][:70])
    return table


def _run_attached(ids: list[int], timeout: float, as_json: bool) -> list[dict[str, Any]]:
    """Work the jobs in this process (a lease-taking worker like any other) while showing progress."""
    from pasarela.worker import Worker

    rt = runtime()
    workers = [Worker(rt) for _ in range(2)]
    threads = []
    for worker in workers:
        worker.handlers = {k: v for k, v in worker.handlers.items() if k.startswith("mysuite.")}
        threads.append(threading.Thread(target=worker.run_forever, daemon=True))
        threads[-1].start()
    deadline = time.monotonic() + timeout
    rows = views.list_requests(rt, ids=ids)
    try:
        if as_json:
            while not _settled(rows) and time.monotonic() < deadline:
                time.sleep(0.3)
                rows = views.list_requests(rt, ids=ids)
        else:
            with Live(_progress_table(rows), console=console, refresh_per_second=4) as live:
                while not _settled(rows) and time.monotonic() < deadline:
                    time.sleep(0.3)
                    rows = views.list_requests(rt, ids=ids)
                    live.update(_progress_table(rows))
    except KeyboardInterrupt:
        console.print("[yellow]desconectado: las solicitudes siguen con `pasarela serve` o `pasarela worker`[/yellow]")
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(10)
    return rows


def _settled(rows: list[dict[str, Any]]) -> bool:
    return all(r["estado"] in planner.TERMINAL for r in rows)


def setup(group: Any) -> None:
    mx = group("mx")
    cfdi = group("mx", "cfdi", help="Almacén de CFDI descargados del SAT: búsqueda, exportación, resumen.")

    @mx.command("download")
    def download(
        date_from: Annotated[str, typer.Option("--from", help="Fecha inicial AAAA-MM-DD")],
        date_to: Annotated[str, typer.Option("--to", help="Fecha final AAAA-MM-DD (incluida)")],
        issued: Annotated[bool, typer.Option("--issued/--received", help="Emitidos por la empresa o recibidos")] = True,
        xml: Annotated[bool, typer.Option("--xml/--metadata", help="Archivos XML o sólo metadata")] = True,
        retenciones: Annotated[
            bool, typer.Option("--retenciones", help="Comprobantes de retenciones en vez de CFDI")] = False,
        force: Annotated[bool, typer.Option(
            "--force", help="Pedir aunque el periodo ya se haya pedido (límite del SAT: 2 veces)")] = False,
        detach: Annotated[
            bool, typer.Option("--detach", help="Sólo registrar; el servidor sigue las solicitudes")] = False,
        timeout: Annotated[float, typer.Option(help="Segundos a esperar en primer plano")] = 7 * 24 * 3600.0,
        as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False,
    ) -> None:
        """Plan, register and follow SAT bulk-download requests through MYSuite, then ingest every file."""
        ask = planner.Ask(direccion="EMISOR" if issued else "RECEPTOR", tipo="CFDI" if xml else "Metadata",
                          servicio="RETENCIONES" if retenciones else "CFDIS",
                          start=_date(date_from, "--from"), end=_date(date_to, "--to"), force=force)
        rt = runtime()
        try:
            result = planner.plan(rt, ask)
        except InvalidInput as exc:
            fail(exc.message)
            return
        for refusal in result.refused:
            console.print(f"[yellow]no se pide de nuevo:[/yellow] {refusal['explanation']}")
        if not as_json:
            console.print(f"{len(result.created)} solicitud(es) nuevas, {len(result.resumed)} en curso retomadas, "
                          f"{len(result.refused)} rechazadas por ya pedidas")
        rows = views.list_requests(rt, ids=result.request_ids)
        if result.request_ids and not detach:
            rows = _run_attached(result.request_ids, timeout, as_json)
        if as_json:
            print_json({"created": result.created, "resumed": result.resumed, "refused": result.refused,
                        "requests": rows})
        elif rows and detach:
            console.print(_progress_table(rows))
        if not result.request_ids and result.refused:
            raise typer.Exit(2)

    @mx.command("requests")
    def requests(
        state: Annotated[str | None, typer.Option(help="Sólo las de este estado")] = None,
        remote: Annotated[bool, typer.Option("--remote", help="Consultar la lista en MYSuite (paginada)")] = False,
        page: Annotated[int, typer.Option(help="Página (con --remote)")] = 1,
        page_size: Annotated[int, typer.Option(help="Tamaño de página (con --remote)")] = 50,
        order: Annotated[
            str, typer.Option(help="Orden (con --remote), p. ej. 'FechaInicial ASC'")] = "FechaRegistro DESC",
        as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False,
    ) -> None:
        """Every SAT request with its state, counts and files (or MYSuite's own list with --remote)."""
        rt = runtime()
        if remote:
            from pasarela.providers.mx.mysuite.flow import make_client

            filters = [("EstadoSolicitud", "=", state, "")] if state else []
            try:
                result = make_client(rt).list_requests(page=page, page_size=page_size, order=order, filters=filters)
            except ProviderError as exc:
                fail(exc.message)
                return
            if as_json:
                print_json(result.__dict__)
                return
            print_table("Solicitudes en MYSuite",
                        ["Id", "servicio", "tipo", "dirección", "inicial", "final", "estado SAT"],
                        [[line.get("Id"), line.get("Servicio"), line.get("TipoSolicitud"), line.get("TipoTaxID"),
                          line.get("FechaInicial"), line.get("FechaFinal"), line.get("EstadoSolicitud")]
                         for line in result.lines],
                        caption=f"página {result.page}/{result.total_pages}, {result.total_lines} solicitudes")
            return
        rows = views.list_requests(rt, state=state)
        if as_json:
            print_json(rows)
            return
        print_table("Solicitudes de descarga masiva", ["#", "periodo", "servicio", "dirección", "tipo", "estado",
                                                       "MYSuite", "CFDI", "paquetes", "ingestados", "mensaje"],
                    [[r["id"], f"{r['fecha_inicial'][:10]} → {r['fecha_final'][:10]}", r["servicio"], r["direccion"],
                      r["tipo"], r["estado"], r["mysuite_id"] or "", r["cfdis"],
                      f"{r['paquetes_ingestados']}/{r['paquetes']}", r["documentos_ingestados"], r["mensaje"][:60]]
                     for r in rows])

    def filters(rfc: str | None, counterparty: str | None, date_from: str | None, date_to: str | None,
                tipo: str | None, status: str | None, min_total: str | None, max_total: str | None,
                uuid: str | None) -> query.CfdiFilters:
        try:
            low = Decimal(min_total) if min_total else None
            high = Decimal(max_total) if max_total else None
        except ArithmeticError:
            fail("--min/--max deben ser importes, p. ej. 1500.00")
            raise
        return query.CfdiFilters(rfc=rfc, counterparty=counterparty, date_from=date_from, date_to=date_to,
                                 tipo=tipo, estado=status, min_total=low, max_total=high, uuid=uuid)

    @cfdi.command("search")
    def search(rfc: Rfc = None, counterparty: Counter = None, date_from: From = None, date_to: To = None,
               tipo: Tipo = None, status: Status = None, min_total: Min = None, max_total: Max = None,
               uuid: Uuid = None, limit: Annotated[int, typer.Option(help="Máximo de filas")] = 50,
               as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False) -> None:
        """Find CFDI in the store by RFC, counterparty, dates, type, status, amount or UUID."""
        rt = runtime()
        total, rows = query.search(rt.db, filters(rfc, counterparty, date_from, date_to, tipo, status, min_total,
                                                  max_total, uuid), limit=limit)
        if as_json:
            print_json({"total": total, "items": rows})
            return
        print_table("CFDI", ["UUID", "fecha", "tipo", "serie-folio", "emisor", "receptor", "total", "estado"],
                    [[r["uuid"], r["fecha_emision"], r["tipo"], f"{r['serie']}-{r['folio']}".strip("-"),
                      r["emisor_rfc"], r["receptor_rfc"], r["total"] if r["tipo"] != "P" else r["monto_pagado"],
                      r["estado"] or "—"] for r in rows], caption=f"{len(rows)} de {total}")

    @cfdi.command("export")
    def export(output: Annotated[Path, typer.Option("--output", "-o", help="Archivo de salida")] = Path("cfdi"),
               csv_format: Annotated[bool, typer.Option("--csv/--xlsx", help="CSV o Excel")] = True,
               rfc: Rfc = None, counterparty: Counter = None, date_from: From = None, date_to: To = None,
               tipo: Tipo = None, status: Status = None, min_total: Min = None, max_total: Max = None,
               uuid: Uuid = None) -> None:
        """Export the matching CFDI to CSV or XLSX."""
        rt = runtime()
        suffix = ".csv" if csv_format else ".xlsx"
        path = output if output.suffix == suffix else output.with_suffix(suffix)
        rows = query.iter_all(rt.db, filters(rfc, counterparty, date_from, date_to, tipo, status, min_total,
                                             max_total, uuid))
        count = (query.export_csv if csv_format else query.export_xlsx)(rows, path)
        console.print(f"{count} CFDI exportados a [bold]{path}[/bold]")

    @cfdi.command("summary")
    def summary(date_from: From = None, date_to: To = None, rfc: Rfc = None, counterparty: Counter = None,
                as_json: Annotated[bool, typer.Option("--json", help="Salida JSON")] = False) -> None:
        """Totals per month and counterparty (issued and received, relative to the company RFC)."""
        rt = runtime()
        rows = query.summary(rt.db, query.CfdiFilters(rfc=rfc, counterparty=counterparty, date_from=date_from,
                                                      date_to=date_to), load(rt.settings).rfc)
        if as_json:
            print_json(rows)
            return
        print_table("Resumen por mes y contraparte", ["mes", "dirección", "contraparte", "nombre", "CFDI",
                                                      "cancelados", "total", "pagado"],
                    [[r["mes"], r["direccion"], r["contraparte"], r["nombre"][:40], r["documentos"], r["cancelados"],
                      r["total"], r["pagado"] or ""] for r in rows])
