from collections.abc import Callable
from typing import Any

import typer

from pasarela.plugins import ProviderPlugin
from pasarela.providers.cl.jumpseller import reconcile, sender, simulator, webhook
from pasarela.providers.cl.jumpseller.stores import stores


def startup_hint(rt: Any) -> str:
    lines = []
    for shop in stores(rt.settings).values():
        lines.append(
            f"tienda [bold]{shop.code}[/bold] (Facto: {shop.facto_mode}) — webhook "
            f"{rt.settings.public_url}/webhooks/jumpseller/{shop.code}\n"
            f"  prueba: [bold].venv/bin/pasarela simulate jumpseller-order --store {shop.code}[/bold]"
        )
    return "\n".join(lines)


def _cli(group: Callable[..., typer.Typer]) -> None:
    group("cl").command("reconcile")(reconcile.reconcile_command)


PLUGIN = ProviderPlugin(
    name="jumpseller",
    country="CL",
    config=("jumpseller", "pasarela.providers.cl.jumpseller.stores:JumpsellerSection"),
    routers=[webhook.router, reconcile.router],
    simulator=simulator.create_app,
    cli_setup=_cli,
    simulate_commands={"jumpseller-order": sender.jumpseller_order},
    startup_hint=startup_hint,
)
