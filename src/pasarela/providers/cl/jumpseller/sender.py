"""`pasarela simulate jumpseller-order`: a realistic, signed `order_paid` webhook, as Jumpseller sends it."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer

from pasarela.providers.cl.jumpseller.webhook import signature

PRODUCTS = [
    ("Café de grano tostado 1 kg", 12990),
    ("Polera algodón orgánico talla M", 14990),
    ("Taza de cerámica artesanal", 6990),
    ("Chocolate amargo 70% cacao", 3490),
    ("Miel de ulmo 500 g", 7990),
    ("Libro: Cien años de soledad", 15990),
    ("Mochila impermeable 20 L", 29990),
    ("Vino tinto Carménère reserva", 8990),
]
EXEMPT_PRODUCTS = [("Curso en línea de repostería (exento)", 25000), ("Entrada a taller de cerámica", 18000)]
CUSTOMERS = [
    ("María José", "González", "mjgonzalez@example.cl"),
    ("Joaquín", "Muñoz", "jmunoz@example.cl"),
    ("Sofía", "Rojas Pérez", "sofia.rojas@example.cl"),
]
COMPANY = {"rut": "76.086.428-5", "razon": "Comercializadora Los Andes SpA", "giro": "Venta al por menor de alimentos"}
SHIPPING = 3990


def _products(rng: random.Random, exempt: bool) -> list[dict[str, Any]]:
    catalog = EXEMPT_PRODUCTS if exempt else PRODUCTS
    chosen = rng.sample(catalog, k=min(len(catalog), rng.randint(1, 3)))
    iva = [{"id": 1, "name": "IVA", "rate": 19.0, "fixed": 0.0, "tax_on_product_price": True}]
    return [
        {
            "id": 10000 + index,
            "variant_id": None,
            "sku": f"SKU-{abs(hash(name)) % 100000:05d}",
            "name": name,
            "qty": rng.randint(1, 3),
            "price": float(price),
            "discount": 0.0,
            "taxes": [] if exempt else iva,
        }
        for index, (name, price) in enumerate(chosen)
    ]


def _billing_address(first: str, last: str) -> dict[str, Any]:
    return {
        "name": first,
        "surname": last,
        "taxid": None,
        "address": "Av. Providencia",
        "street_number": "1234",
        "complement": "Depto 56",
        "city": "Santiago",
        "municipality": "Providencia",
        "region": "Región Metropolitana",
        "country": "Chile",
        "country_code": "CL",
        "postal": "7500000",
    }


def _ask_for_factura(order: dict[str, Any], rut: str | None) -> None:
    """What a buyer who asks for a factura fills in at Jumpseller's checkout."""
    order["billing_address"]["taxid"] = rut or COMPANY["rut"]
    order["billing_information"] = {
        "company_name": COMPANY["razon"],
        "business_activity": COMPANY["giro"],
        "taxpayer_type": "company",
    }
    order["additional_fields"] += [
        {"label": "Razón Social", "value": COMPANY["razon"], "id": 2, "area": "other"},
        {"label": "Giro", "value": COMPANY["giro"], "id": 3, "area": "other"},
    ]


def build_order(
    order_id: int,
    *,
    factura: bool = False,
    rut: str | None = None,
    exempt: bool = False,
    discount: int = 0,
    currency: str = "CLP",
    seed: int | None = None,
) -> dict[str, Any]:
    """A paid Jumpseller order as its `order_paid` webhook carries it (repeatable for a given seed)."""
    rng = random.Random(seed if seed is not None else order_id)
    products = _products(rng, exempt)
    subtotal = sum(float(p["qty"]) * float(p["price"]) for p in products)
    first, last, email = rng.choice(CUSTOMERS)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    order: dict[str, Any] = {
        "id": order_id,
        "created_at": now,
        "completed_at": now,
        "status": "Paid",
        "status_enum": "paid",
        "currency": currency,
        "subtotal": subtotal,
        "tax": 0.0,
        "shipping": float(SHIPPING),
        "shipping_tax": 0.0,
        "discount": float(discount),
        "shipping_discount": 0.0,
        "gift_cards_discount": 0.0,
        "total": subtotal + SHIPPING - discount,
        "payment_method_name": "Webpay Plus",
        "payment_method_type": "webpay",
        "customer": {
            "id": rng.randint(1000, 9999),
            "email": email,
            "phone": "+56912345678",
            "fullname": f"{first} {last}",
        },
        "billing_address": _billing_address(first, last),
        "products": products,
        "additional_fields": [
            {
                "label": "Boleta o Factura",
                "value": "Factura Electrónica" if factura else "Boleta",
                "id": 1,
                "area": "other",
            }
        ],
    }
    if factura:
        _ask_for_factura(order, rut)
    return {"order": order}


def signed_headers(body: bytes, store_code: str, hooks_token: str, event: str = "order_paid") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Jumpseller-Store-Code": store_code,
        "Jumpseller-Event": event,
        "Jumpseller-Hmac-Sha256": signature(body, hooks_token),
        "Jumpseller-Triggered-At": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC",
        "User-Agent": "Jumpseller-Webhooks (pasarela simulate)",
    }


def send(url: str, body: bytes, headers: dict[str, str], times: int = 1) -> list[tuple[int, str]]:
    """Deliver the same body `times` times at once, as a retrying or duplicating sender would."""

    def one(_: int) -> tuple[int, str]:
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=15)  # Jumpseller waits 15 s
            return response.status_code, response.text
        except httpx.HTTPError as exc:
            return 0, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=min(times, 32)) as pool:
        return list(pool.map(one, range(times)))


def _store_in_simulated_jumpseller(sim_url: str, store: str, order: dict[str, Any]) -> None:
    """The order exists in (the simulated) Jumpseller whatever happens to its webhook."""
    try:
        httpx.post(f"{sim_url}/_orders", json={"store": store, "order": order}, timeout=5)
    except httpx.HTTPError:
        pass  # the gateway is not running; the webhook below will say so


def jumpseller_order(
    store: Annotated[str, typer.Option(help="Store code from [[jumpseller.stores]]")] = "demo",
    factura: Annotated[bool, typer.Option("--factura", help="Ask for a factura (RUT, Razón Social, Giro)")] = False,
    rut: Annotated[str | None, typer.Option(help="Receptor RUT for the factura (try an invalid one)")] = None,
    exempt: Annotated[bool, typer.Option("--exempt", help="Only exempt products (→ 41 / 34)")] = False,
    discount: Annotated[int, typer.Option(help="Order discount in CLP")] = 0,
    currency: Annotated[str, typer.Option(help="Order currency (the connector only issues CLP)")] = "CLP",
    times: Annotated[int, typer.Option(help="Deliver the same order N times concurrently")] = 1,
    order_id: Annotated[int | None, typer.Option(help="Order id (default: a new one)")] = None,
    url: Annotated[str | None, typer.Option(help="Webhook URL (default: this gateway's)")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the document to settle (0: don't wait)")] = 5.0,
    hook_paused: Annotated[
        bool, typer.Option("--hook-paused", help="The order is paid in Jumpseller but no webhook is sent")
    ] = False,
) -> None:
    """Send a realistic signed Jumpseller `order_paid` webhook (Spanish products, CLP, shipping)."""
    from pasarela.cli.common import console, fail, print_table, runtime, wait_settled
    from pasarela.core.outcomes import SETTLED_STATES
    from pasarela.ledger.models import Document
    from pasarela.providers.cl.jumpseller.stores import store as find_store
    from pasarela.providers.cl.jumpseller.webhook import idempotency_key

    rt = runtime()
    shop = find_store(rt.settings, store)
    if shop is None:
        fail(f"no hay una tienda {store!r} en [[jumpseller.stores]] de {rt.settings.path}")
        return
    order_id = order_id or int(time.time() * 1000) % 1_000_000_000
    payload = build_order(order_id, factura=factura, rut=rut, exempt=exempt, discount=discount, currency=currency)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    target = url or f"{rt.settings.public_url}/webhooks/jumpseller/{store}"
    if shop.facto_mode == "simulator":
        _store_in_simulated_jumpseller(rt.settings.simulator_url("jumpseller"), store, payload["order"])
    if hook_paused:
        console.print(f"pedido #{order_id} pagado en Jumpseller, sin webhook: `pasarela cl reconcile --store {store}`")
        return
    answers = send(target, body, signed_headers(body, store, shop.hooks_token), times)
    codes: dict[int, int] = {}
    for code, _ in answers:
        codes[code] = codes.get(code, 0) + 1
    order = payload["order"]
    console.print(
        f"pedido #{order_id} ({'factura' if factura else 'boleta'}, total ${order['total']:,.0f}) → "
        f"{target}: " + ", ".join(f"HTTP {c} × {n}" for c, n in sorted(codes.items()))
    )
    if 0 in codes or any(code >= 400 for code in codes):
        console.print(f"[red]respuesta:[/red] {next(text for code, text in answers if code != 200)}")
    if wait <= 0 or 200 not in codes:
        return
    with rt.db.transaction() as session:
        from sqlalchemy import select

        doc = session.scalar(select(Document).where(Document.idempotency_key == idempotency_key(store, order_id)))
        doc_id = doc.id if doc else None
    if doc_id is None:
        return
    wait_settled(rt, [doc_id], wait, {str(s) for s in SETTLED_STATES})
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        row = (doc.id, doc.state, doc.provider_ref or "", (doc.result or {}).get("tipo_dte", ""), doc.reason[:70])
    print_table("Documento", ["id", "estado", "folio", "tipo", "motivo"], [row])
