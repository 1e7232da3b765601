"""Where a provider lives in each mode: one table per provider (its ``urls.py`` holds an `Endpoints`), one
function that picks the URL, and one rule for every provider: out of simulator mode, never a simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pasarela.core.errors import ConfigError

MODES = ("simulator", "test", "production")


@dataclass(frozen=True)
class Endpoints:
    provider: str  # the simulator's name under /sim/<provider>
    test: str
    production: str
    simulator_path: str = ""  # appended to <public_url>/sim/<provider> (e.g. "/documento.php")

    def url(self, mode: str, settings: Any, override: str = "", *, key: str = "mode") -> str:
        """The URL to call in ``mode``; ``override`` (a configured base_url/url) wins where given."""
        mode = str(mode).strip().lower()
        if mode not in MODES:
            raise ConfigError(f"modo desconocido {mode!r}; use uno de: {', '.join(MODES)}", key)
        simulator = f"{settings.simulator_url(self.provider)}{self.simulator_path}"
        if override:
            chosen = override.rstrip("/") if not self.simulator_path else override
        elif mode == "simulator":
            chosen = simulator
        else:
            chosen = self.production if mode == "production" else self.test
        if mode != "simulator" and is_simulator_url(chosen, settings):
            raise ConfigError(
                f"en modo {mode} {self.provider} no puede hablar con un simulador ({chosen}); "
                'usa mode = "simulator" o la URL real del proveedor',
                key,
            )
        return chosen


def is_simulator_url(url: str, settings: Any) -> bool:
    """A URL that points at this gateway's own simulators."""
    base = f"{settings.public_url}/sim/"
    return url.startswith(base)
