"""`pasarela alerts list|test|deliveries`."""

from __future__ import annotations

from typing import Annotated

import typer

from pasarela.cli.common import console, fail, print_json, print_table, runtime
from pasarela.core.errors import PasarelaError

app = typer.Typer(help="Alertas: lo que la pasarela avisa por correo o webhook, con su estado.",
                  no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Salida JSON")]


@app.command("list")
def list_command(
    state: Annotated[str | None, typer.Option(help="Sólo open (abiertas) o resolved (resueltas)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Las alertas, abiertas primero, con su estado, su causa y su enlace."""
    from pasarela.alerts.views import list_alerts

    found = list_alerts(runtime(), state=state)
    if as_json:
        print_json(found)
        return
    print_table("Alertas", ["id", "regla", "estado", "desde", "alerta", "enlace"],
                [(a["id"], a["rule_title"], a["state_label"], a["opened_text"], a["text"], a["link"])
                 for a in found["items"]],
                caption=f"{found['open']} abierta(s), {found['resolved']} resuelta(s)")


@app.command("test")
def test_command() -> None:
    """Envía ahora una alerta de prueba a cada canal configurado (correo y webhook)."""
    from pasarela.alerts.channels import DeliveryFailed, deliver
    from pasarela.alerts.engine import send_test

    rt = runtime()
    try:
        sent = send_test(rt)
    except PasarelaError as exc:
        fail(exc.message)
        return
    failed = False
    for channel in sent["channels"]:
        try:
            result = deliver(rt, sent["message_id"], channel)
            console.print(f"[green]enviada[/green] por {channel} a {result['target']}")
        except DeliveryFailed as exc:
            failed = True
            console.print(f"[red]falló[/red] {channel}: {exc}")
    if failed:
        raise typer.Exit(1)


@app.command("deliveries")
def deliveries_command(
    limit: Annotated[int, typer.Option(help="Cuántos intentos mostrar")] = 30, as_json: JsonOpt = False
) -> None:
    """El registro de entregas: cada intento de cada mensaje a cada canal."""
    from pasarela.alerts.views import deliveries

    items = deliveries(runtime(), limit)
    if as_json:
        print_json(items)
        return
    print_table("Entregas de alertas", ["mensaje", "asunto", "canal", "intento", "estado", "error"],
                [(d["message_id"], d["subject"], d["channel"], d["attempt"], d["status"], d["error"]) for d in items])
