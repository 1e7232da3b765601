"""A store's Facto account: the `[jumpseller.stores.facto]` table of each store."""

from __future__ import annotations

from typing import Literal

from pasarela.core.config_model import Section, secret, setting


class FactoAccount(Section):
    """La cuenta Facto que emite los documentos de esta tienda."""

    mode: Literal["simulator", "test", "production"] = setting("simulator", "simulator | test | production")
    user: str = setting(
        "1.111.111-4/pruebasapi",
        '"<RUT empresa con puntos>/<login API>" y la llave API de 32 hexadecimales\nde Facto › Servicios API.',
    )
    password: str = secret("", generate="hex16")
    url: str = setting("", hidden=True)
