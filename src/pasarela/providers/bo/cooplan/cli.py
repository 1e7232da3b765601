"""`pasarela bo client|debts|pay|print|reverse|report`: the Cooplan cashier at the terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pasarela.cli.common import console, fail, print_json, print_table, runtime
from pasarela.core.errors import PasarelaError
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan import flow, mapping, report

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")]
T = TypeVar("T")


def _run(what: str, fn: Callable[[], T]) -> T:
    try:
        with console.status(what):
            return fn()
    except PasarelaError as exc:
        fail(exc.message)
        raise  # unreachable: fail exits


def client(
    contrato: Annotated[str, typer.Argument(help="Contrato / código de socio, p. ej. 345")],
    as_json: JsonOpt = False,
) -> None:
    """Find a member by contract (buscarcliente)."""
    rows = _run("consultando Cooplan…", lambda: flow.find_client(runtime(), contrato))
    if as_json:
        print_json({"contrato": contrato, "clientes": rows})
        return
    print_table(
        f"Socio del contrato {contrato}",
        ["nombre", "factura", "tipo doc.", "nro. doc.", "NIT", "dirección", "estado", "ubicación"],
        [
            (
                r["nombre"],
                r["factura"],
                r["tipo_documento"],
                r["num_doc"],
                r["nit"],
                r["direccion"],
                r["estado"],
                r["cod_ubicacion"],
            )
            for r in rows
        ],
    )


def debts(
    contrato: Annotated[str, typer.Argument(help="Contrato / código de socio")],
    as_json: JsonOpt = False,
) -> None:
    """List the pending debts of a contract, per period (consultardeuda)."""
    found = _run("consultando deudas…", lambda: flow.list_debts(runtime(), contrato))
    total = mapping.redondeo_bob(sum((d.monto for d in found), Decimal("0")))
    if as_json:
        print_json({"contrato": contrato, "deudas": [d.as_dict() for d in found], "total": str(total)})
        return
    print_table(
        f"Deudas pendientes del contrato {contrato}",
        ["periodo", "factura", "monto (Bs)", "socio", "asociado"],
        [(d.periodo, d.factura, d.monto, d.nombre, d.id_asociado) for d in found],
        caption=f"{len(found)} deuda(s), total Bs {total}",
    )


def pay(
    contrato: Annotated[str, typer.Argument(help="Contrato / código de socio")],
    periodo: Annotated[str, typer.Option("--periodo", "-p", help="Periodo AAAAMM a pagar, p. ej. 202110")],
    factura: Annotated[str | None, typer.Option(help="IdFactura, si hace falta distinguir")] = None,
    monto: Annotated[str | None, typer.Option(help="Monto cobrado; se rechaza si no es el de la deuda")] = None,
    cajero: Annotated[str | None, typer.Option(help="Caja que cobra (por omisión [bo.cooplan] cajero)")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No pedir confirmación")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Pay one debt (realizarpago) and show the receipt. Asks for confirmation unless --yes."""
    rt = runtime()
    if not yes:
        found = _run("consultando deudas…", lambda: flow.list_debts(rt, contrato))
        debt = mapping.find_debt(found, periodo.strip(), factura)
        amount_ok = debt is not None and (not monto or _same_amount(monto, debt.monto))
        if debt is not None and amount_ok:
            print_table(
                "Pago a realizar",
                ["contrato", "socio", "periodo", "factura", "monto (Bs)"],
                [(contrato, debt.nombre, debt.periodo, debt.factura, debt.monto)],
            )
            if not typer.confirm(f"¿Cobrar Bs {debt.monto} del periodo {debt.periodo}?"):
                fail("cancelado: no se cobró nada")
    payment = _run(
        "pagando en Cooplan…",
        lambda: flow.pay(rt, contrato, periodo, factura=factura, monto=monto, cajero=cajero),
    )
    _show_payment(payment, as_json)
    if payment["estado"] != flow.PAID:
        raise typer.Exit(2)


def _same_amount(text: str, expected: Decimal) -> bool:
    try:
        return mapping.parse_monto(text) == expected
    except Exception:  # noqa: BLE001 - flow.pay reports it with the reason
        return False


def _show_payment(payment: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(payment)
        return
    print_table("Comprobante", ["campo", "valor"], report.receipt_lines(payment))
    if payment["estado"] != flow.PAID:
        console.print(f"[bold magenta]{payment['estado']}[/]: {payment['motivo']}")


def print_cmd(
    payment_id: Annotated[int, typer.Argument(help="Id del pago (documento) mostrado por `bo pay`")],
    pdf: Annotated[Path | None, typer.Option(help="Guardar el comprobante PDF en este archivo")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the invoice of a payment (imprimirfactura) and our receipt PDF."""
    rt = runtime()
    printed = _run("imprimiendo…", lambda: report.print_payment(rt, payment_id))
    if pdf is not None:
        from sqlalchemy import select

        from pasarela.ledger.models import Artifact

        with rt.db.transaction() as session:
            artifact = session.scalar(
                select(Artifact).where(Artifact.document_id == payment_id, Artifact.name == "comprobante.pdf")
            )
            assert artifact is not None
            pdf.write_bytes(Path(artifact.path).read_bytes())
    if as_json:
        print_json(printed)
        return
    print_table("Comprobante", ["campo", "valor"], report.receipt_lines(printed))
    console.print(f"Cooplan: {printed['impresion']['respuesta']}" + (f"  ·  PDF: {pdf}" if pdf else ""))


def reverse(
    payment_id: Annotated[int, typer.Argument(help="Id del pago (documento) a revertir")],
    cajero: Annotated[str | None, typer.Option(help="Caja que revierte")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No pedir confirmación")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Reverse a payment (revertirpago). Never twice."""
    rt = runtime()
    if not yes:
        payment = _run("buscando el pago…", lambda: flow.payment_view(rt, payment_id))
        if not typer.confirm(
            f"¿Revertir el pago {payment_id} (IdCobranza {payment['id_cobranza']}, Bs {payment['monto']})?"
        ):
            fail("cancelado: no se revirtió nada")
    done = _run("revirtiendo en Cooplan…", lambda: flow.reverse(rt, payment_id, cajero=cajero))
    if as_json:
        print_json(done)
        return
    r = done["reversal"]
    print_table(
        "Reversión",
        ["documento", "pago", "IdCobranza", "monto (Bs)", "caja", "estado", "motivo"],
        [(r["id"], r["pago"], r["id_cobranza"], r["monto"], r["cajero"], r["estado"], r["motivo"])],
    )
    if r["estado"] != flow.REVERSED:
        raise typer.Exit(2)


def report_cmd(
    date: Annotated[
        str | None, typer.Option("--date", "-d", help="Día AAAA-MM-DD (hora de Bolivia); hoy por omisión")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Escribir el reporte CSV en este archivo")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Escribir el reporte PDF en este archivo")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Daily collection report from our ledger (per cashier), beside Cooplan's reportecobranzas."""
    rt = runtime()
    try:
        day = mapping.check_fecha(date or datetime.now(A.BOLIVIA_TZ).date().isoformat())
    except Exception as exc:  # noqa: BLE001
        fail(getattr(exc, "message", str(exc)))
        return
    data = _run("armando el reporte…", lambda: report.report_with_provider(rt, day))
    if csv is not None:
        csv.write_bytes(report.report_csv(data))
    if pdf is not None:
        pdf.write_bytes(report.report_pdf(data, data["cooplan"]))
    if as_json:
        print_json(data)
        return
    print_table(
        f"Pagos del {day}",
        ["doc", "fecha", "caja", "contrato", "periodo", "factura", "Bs", "IdCobranza", "estado"],
        [
            (
                p["documento"],
                p["fecha_pago"],
                p["cajero"],
                p["contrato"],
                p["periodo"],
                p["factura"],
                p["monto"],
                p["id_cobranza"],
                p["estado"],
            )
            for p in data["pagos"]
        ],
    )
    if data["reversiones"]:
        print_table(
            "Reversiones",
            ["doc", "pago", "caja", "contrato", "periodo", "Bs", "IdCobranza"],
            [
                (
                    r["documento"],
                    r["pago"],
                    r["cajero"],
                    r["contrato"],
                    r["periodo"],
                    r["monto"],
                    r["id_cobranza"],
                )
                for r in data["reversiones"]
            ],
        )
    t = data["totales"]
    print_table(
        "Totales por caja",
        ["caja", "pagos", "cobrado", "reversiones", "revertido", "neto"],
        [
            (c["cajero"], c["pagos"], c["cobrado"], c["reversiones"], c["revertido"], c["neto"])
            for c in data["por_cajero"]
        ]
        + [("TOTAL", t["pagos"], t["cobrado"], t["reversiones"], t["revertido"], t["neto"])],
    )
    cooplan = data["cooplan"]
    if cooplan.get("disponible"):
        console.print(
            f"reportecobranzas: {len(cooplan['filas'])} fila(s); solo en ledger: "
            f"{', '.join(cooplan['solo_en_ledger']) or 'ninguna'}; solo en Cooplan: "
            f"{', '.join(cooplan['solo_en_cooplan']) or 'ninguna'}"
        )
    else:
        console.print(f"reportecobranzas: {cooplan.get('mensaje')}")
    for path in (csv, pdf):
        if path is not None:
            console.print(f"escrito {path}")


def setup(group: Callable[..., typer.Typer]) -> None:
    g = group("bo")
    g.command("client")(client)
    g.command("debts")(debts)
    g.command("pay")(pay)
    g.command("print")(print_cmd)
    g.command("reverse")(reverse)
    g.command("report")(report_cmd)
