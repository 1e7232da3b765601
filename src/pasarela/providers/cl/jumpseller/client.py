"""Jumpseller's REST API, for what webhooks can miss: after 8 failed deliveries Jumpseller pauses a hook
(reference/chile.md §3.3), so paid orders are also polled (`GET /v1/orders/status/paid.json`, Basic
`login:authtoken`, pages of at most 100; 429 when throttled) and fed through the same ingest path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from pasarela.core import strict_json
from pasarela.core.errors import MaybeSent, NeedsAttention
from pasarela.core.transport import ProviderHTTP

PRODUCTION = "https://api.jumpseller.com/v1"
PAGE_LIMIT = 100  # Jumpseller's maximum page size


def api_base(settings: Any, store: Any) -> str:
    if store.api_url:
        return str(store.api_url).rstrip("/")
    if store.facto_mode == "simulator":
        return f"{settings.simulator_url('jumpseller')}/v1"
    return PRODUCTION


class JumpsellerClient:
    def __init__(self, http: ProviderHTTP, base_url: str, login: str, token: str):
        self.http = http
        self.base_url = base_url
        self.auth = httpx.BasicAuth(login, token)

    def orders_page(self, status: str, page: int, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
        response = self.http.request(
            "orders_by_status",
            "GET",
            f"{self.base_url}/orders/status/{status}.json",
            params={"page": page, "limit": limit},
            auth=self.auth,
        )
        if response.status_code in (401, 403):
            raise NeedsAttention(f"Jumpseller rechazó las credenciales de la API (HTTP {response.status_code})")
        if response.status_code != 200:
            raise MaybeSent(f"Jumpseller respondió HTTP {response.status_code}")
        try:
            items = strict_json.loads(response.content)
        except ValueError as exc:
            raise MaybeSent(f"respuesta de Jumpseller ilegible: {exc}") from exc
        return [item["order"] for item in items if isinstance(item, dict) and isinstance(item.get("order"), dict)]

    def paid_orders(self, max_pages: int = 1000) -> Iterator[dict[str, Any]]:
        """Every paid order, page by page, until a short page."""
        for page in range(1, max_pages + 1):
            orders = self.orders_page("paid", page)
            yield from orders
            if len(orders) < PAGE_LIMIT:
                return
