"""A paid Jumpseller order → Facto's `emitirDocumento` document (modelled on Facto's own WooCommerce plugin).

Money rule: the document's total is the amount the customer paid, to the peso. Lines go net with
six-decimal unit prices and `redondeo_tipo=bruto`, so that Facto's gross recomputation lands on the
paid amount; IVA takes the last-peso adjustment, as Facto's plugin does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pasarela.core.errors import InvalidInput
from pasarela.providers.cl.jumpseller.order import Order, fold
from pasarela.providers.cl.money import IVA_FACTOR, net_unit_price, round_clp
from pasarela.providers.cl.rut import InvalidRut, normalize_rut

BOLETA, BOLETA_EXENTA, FACTURA, FACTURA_EXENTA = 39, 41, 33, 34
EXEMPT_TYPE = {BOLETA: BOLETA_EXENTA, FACTURA: FACTURA_EXENTA}
DOCUMENT_NAMES = {33: "factura", 34: "factura exenta", 39: "boleta", 41: "boleta exenta"}
SHIPPING_GLOSA = "Gastos de envío"
# SII DTE_v10.xsd limits for the receptor.
MAX_GIRO, MAX_RAZON, MAX_DIRECCION, MAX_COMUNA, MAX_CIUDAD = 40, 100, 70, 20, 20
# Per line, the gross/net round trip may move a peso; more than this is a real mismatch.
TOLERANCE_PER_LINE = 1

# Fields an operator may correct with `documents retry --set`.
CORRECTABLE = {
    "tipo_dte",
    "receptor_rut",
    "receptor_razon",
    "receptor_giro",
    "receptor_direccion",
    "receptor_comuna",
    "receptor_ciudad",
    "receptor_telefono",
    "receptor_email",
}


class SkipOrder(Exception):
    """Nothing should be issued for this order (not CLP, zero total)."""


@dataclass
class FactoDocument:
    encabezado: dict[str, Any]
    detalles: list[dict[str, Any]]
    totales: dict[str, Any]
    opciones: dict[str, Any] = field(default_factory=dict)
    referencias: list[dict[str, Any]] = field(default_factory=list)
    descuentos: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tipo_dte(self) -> int:
        return int(self.encabezado["tipo_dte"])


def check_issuable(order: Order) -> None:
    if (order.currency or "CLP").upper() != "CLP":
        raise SkipOrder(f"moneda {order.currency} no soportada: el conector solo emite en pesos chilenos (CLP)")
    if order.total <= 0:
        raise SkipOrder("pedido con total 0: no se emite documento")


def choose_document_type(order: Order, default: int = BOLETA) -> int:
    info = order.billing_information
    if info and (info.company_name or "").strip() and (info.business_activity or "").strip():
        return FACTURA
    if info and fold(info.taxpayer_type or "") in ("company", "empresa", "business", "factura"):
        return FACTURA
    choice = order.field_value("Boleta o Factura", "Tipo de documento", "Documento tributario")
    if choice:
        folded = fold(choice)
        if "factura" in folded or folded in ("fe", "fee"):
            return FACTURA
        if "boleta" in folded or folded in ("be", "bee"):
            return BOLETA
    return default


def build_document(
    order: Order, corrections: dict[str, Any] | None = None, *, default_type: int = BOLETA, today: date | None = None
) -> FactoDocument:
    """Raise SkipOrder or InvalidInput (with the reason in Spanish), else the request."""
    corrections = corrections or {}
    check_issuable(order)
    tipo = int(corrections.get("tipo_dte") or choose_document_type(order, default_type))
    if tipo not in DOCUMENT_NAMES:
        raise InvalidInput(f"tipo_dte {tipo} no soportado (33, 34, 39 o 41)", "tipo_dte")
    lines = _lines(order)
    if all(line["exento"] for line in lines):
        tipo = EXEMPT_TYPE.get(tipo, tipo)
    exempt_doc = tipo in (BOLETA_EXENTA, FACTURA_EXENTA)
    detalles, totales, descuentos = _amounts(order, lines, exempt_doc)
    encabezado = {
        "tipo_dte": tipo,
        "fecha_emision": (today or date.today()).isoformat(),
        **_receptor(order, tipo, corrections),
        "condiciones_pago": "0",
        "identificador_externo_doc": str(order.id),
        "observaciones": f"Pedido Jumpseller #{order.id}",
    }
    referencias = [
        {
            "docreferencia_tipo": 802,
            "docreferencia_folio": str(order.id),
            "docreferencia_fecha": _order_date(order, today),
            "codigo_referencia": 5,
            "descripcion": "Pedido Online",
        }
    ]
    return FactoDocument(
        opciones={"redondeo_tipo": "bruto"},
        encabezado=encabezado,
        detalles=detalles,
        referencias=referencias,
        descuentos=descuentos,
        totales=totales,
    )


def _order_date(order: Order, today: date | None) -> str:
    for stamp in (order.completed_at, order.created_at):
        if stamp and len(stamp) >= 10:
            return stamp[:10]
    return (today or date.today()).isoformat()


def _lines(order: Order) -> list[dict[str, Any]]:
    lines = []
    for product in order.products:
        if product.qty <= 0:
            continue
        gross = product.qty * (product.price - product.discount)
        lines.append(
            {
                "glosa": product.name or "Producto",
                "sku": product.sku,
                "qty": product.qty,
                "gross": gross,
                "exento": product.exempt,
            }
        )
    shipping = order.shipping - order.shipping_discount
    if shipping > 0:
        lines.append({"glosa": SHIPPING_GLOSA, "sku": None, "qty": Decimal(1), "gross": shipping, "exento": False})
    if not lines:
        raise InvalidInput("el pedido no tiene productos con cantidad positiva", "products")
    return lines


def _amounts(
    order: Order, lines: list[dict[str, Any]], exempt_doc: bool
) -> tuple[list[dict[str, Any]], dict[str, int], list[dict[str, Any]]]:
    paid = round_clp(order.total)
    listed = sum(round_clp(line["gross"]) for line in lines)
    discount = listed - paid  # order discounts, coupons, gift cards: whatever makes lines reach the paid total
    declared = round_clp(order.discount + order.gift_cards_discount)
    if abs(discount - declared) > TOLERANCE_PER_LINE * (len(lines) + 1):
        raise InvalidInput(
            f"los montos del pedido no cuadran: líneas ${_clp(listed)} − descuentos ${_clp(declared)} "
            f"≠ total pagado ${_clp(paid)}",
            "total",
        )
    detalles, net_affected, exempt_total = [], 0, 0
    for line in lines:
        exento = line["exento"] or exempt_doc
        gross = Decimal(round_clp(line["gross"]))
        if exento:
            unit = (gross / line["qty"]).quantize(Decimal("0.000001"))
            exempt_total += int(gross)
        else:
            unit = net_unit_price(gross, line["qty"])
            net_affected += round_clp(line["qty"] * unit)
        detalle = {
            "cantidad": _plain(line["qty"]),
            "glosa": str(line["glosa"])[:80],
            "monto_unitario": _plain(unit),
            "exento_afecto": 0 if exento else 1,
        }
        if line["sku"]:
            detalle["sku"] = line["sku"]
        detalles.append(detalle)
    descuentos = []
    if discount > 0:
        # A coupon is on the whole order: split it between the taxed and the exempt part by weight.
        gross_affected = paid + discount - exempt_total
        exempt_share = round_clp(Decimal(discount) * exempt_total / (gross_affected + exempt_total))
        net_share = round_clp(Decimal(discount - exempt_share) / IVA_FACTOR) if net_affected else 0
        if not net_affected:
            exempt_share = discount
        for code, value in (("DA", net_share), ("DE", exempt_share)):
            if value:
                descuentos.append({"descrec": code, "valor": value, "tipovalor": "$", "glosa": "Descuentos del pedido"})
        net_affected -= net_share
        exempt_total -= exempt_share
    iva = paid - net_affected - exempt_total
    if iva < 0 or exempt_total < 0:
        raise InvalidInput(f"los montos del pedido no cuadran (IVA resultante {iva})", "total")
    totales = {"total_exento": exempt_total, "total_afecto": net_affected, "total_iva": iva, "total_final": paid}
    return detalles, totales, descuentos


def _receptor(order: Order, tipo: int, corrections: dict[str, Any]) -> dict[str, Any]:
    email = corrections.get("receptor_email") or order.customer.email or ""
    receptor: dict[str, Any] = {"receptor_email": email} if email else {}
    if tipo not in (FACTURA, FACTURA_EXENTA):
        return receptor  # anonymous boleta: Facto needs no receptor; never send giro on a boleta
    info = order.billing_information
    address = order.billing_address
    raw_rut = corrections.get("receptor_rut") or address.taxid or order.field_value("RUT", "RUT empresa", "Rut")
    if not raw_rut:
        raise InvalidInput("factura sin RUT del receptor: indica receptor_rut", "receptor_rut")
    try:
        rut = normalize_rut(str(raw_rut))
    except InvalidRut as exc:
        raise InvalidInput(f"factura con RUT del receptor inválido: {exc}", "receptor_rut") from exc
    razon = (
        corrections.get("receptor_razon") or (info.company_name if info else None) or order.field_value("Razón Social")
    )
    giro = corrections.get("receptor_giro") or (info.business_activity if info else None) or order.field_value("Giro")
    street = " ".join(p for p in (address.address, address.street_number) if p)
    direccion = corrections.get("receptor_direccion") or street
    comuna = corrections.get("receptor_comuna") or address.municipality or address.city
    ciudad = corrections.get("receptor_ciudad") or address.city or address.region or comuna
    for value, name, what in (
        (razon, "receptor_razon", "Razón Social"),
        (giro, "receptor_giro", "Giro"),
        (direccion, "receptor_direccion", "dirección"),
        (comuna, "receptor_comuna", "comuna"),
    ):
        if not (value or "").strip():
            raise InvalidInput(f"factura sin {what} del receptor: indica {name}", name)
    receptor.update(
        {
            "receptor_rut": rut,
            "receptor_razon": str(razon).strip()[:MAX_RAZON],
            "receptor_giro": str(giro).strip()[:MAX_GIRO],
            "receptor_direccion": str(direccion).strip()[:MAX_DIRECCION],
            "receptor_comuna": str(comuna).strip()[:MAX_COMUNA],
            "receptor_ciudad": str(ciudad).strip()[:MAX_CIUDAD],
        }
    )
    phone = corrections.get("receptor_telefono") or order.customer.phone
    if phone:
        receptor["receptor_telefono"] = str(phone)[:20]
    return receptor


def _clp(amount: int) -> str:
    """12345 → '12.345' (Chilean thousands separator)."""
    return f"{amount:,}".replace(",", ".")


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
