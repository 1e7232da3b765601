"""Order → Facto document: the total is what the customer paid, to the peso; every amount consistent."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cl import rut as stdnum_rut

from pasarela.core.errors import InvalidInput
from pasarela.providers.cl.facto.mapping import SkipOrder, build_document, choose_document_type
from pasarela.providers.cl.facto.simulator import validate
from pasarela.providers.cl.jumpseller.order import Order
from pasarela.providers.cl.jumpseller.sender import build_order
from pasarela.providers.cl.money import round_clp
from pasarela.providers.cl.rut import InvalidRut, normalize_rut, with_dots

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "cl" / "jumpseller"


def _as_wire(document) -> dict:
    """The document as the simulator reads it off the wire (every value a string)."""
    return json.loads(
        json.dumps(
            {
                "opciones": document.opciones,
                "encabezado": document.encabezado,
                "detalles": document.detalles,
                "descuentorecargoglobales": document.descuentos,
                "totales": document.totales,
            }
        ),
        parse_int=str,
        parse_float=str,
    )


product = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Café 1 kg", "Polera", "Té verde", "Taza"]),
        "qty": st.integers(1, 7),
        "price": st.integers(1, 400_000),
        "exempt": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    products=st.lists(product, min_size=1, max_size=6),
    shipping=st.sampled_from([0, 2990, 3990, 5000]),
    discount_pct=st.integers(0, 40),
    factura=st.booleans(),
)
def test_total_equals_amount_paid_and_facto_accepts_it(products, shipping, discount_pct, factura):
    listed = sum(p["qty"] * p["price"] for p in products) + shipping
    discount = listed * discount_pct // 100
    order = {
        "id": 1,
        "currency": "CLP",
        "total": listed - discount,
        "shipping": shipping,
        "discount": discount,
        "customer": {"email": "a@b.cl"},
        "billing_address": {"taxid": "76.086.428-5", "address": "Calle 1", "municipality": "Ñuñoa", "city": "Santiago"},
        "products": [
            {"name": p["name"], "qty": p["qty"], "price": p["price"], "taxes": [] if p["exempt"] else [{"rate": 19}]}
            for p in products
        ],
    }
    if factura:
        order["billing_information"] = {"company_name": "Empresa SpA", "business_activity": "Comercio"}
    document = build_document(Order.model_validate(order))
    totals = document.totales
    assert totals["total_final"] == listed - discount
    assert totals["total_final"] == totals["total_afecto"] + totals["total_exento"] + totals["total_iva"]
    assert min(totals.values()) >= 0
    if totals["total_afecto"]:
        # IVA is 19 % of the net, give or take the last-peso adjustment of each line
        assert (
            abs(totals["total_iva"] - round_clp(Decimal(totals["total_afecto"]) * Decimal("0.19"))) <= len(products) + 2
        )
    else:
        assert totals["total_iva"] == 0 and document.tipo_dte in (34, 41)
    assert validate(_as_wire(document)) == []


def test_shipping_is_its_own_line_and_reference_802_points_to_the_order():
    document = build_document(Order.model_validate(build_order(77, seed=1)["order"]))
    assert document.detalles[-1]["glosa"] == "Gastos de envío"
    assert document.referencias == [
        {
            "docreferencia_tipo": 802,
            "docreferencia_folio": "77",
            "docreferencia_fecha": document.referencias[0]["docreferencia_fecha"],
            "codigo_referencia": 5,
            "descripcion": "Pedido Online",
        }
    ]
    assert document.encabezado["identificador_externo_doc"] == "77"
    assert document.encabezado["receptor_email"].endswith("@example.cl")
    assert "receptor_giro" not in document.encabezado  # never on a boleta


@pytest.mark.parametrize(
    "label,value,expected",
    [
        ("Boleta o Factura", "Factura Electrónica", 33),
        ("boleta o factura", "FACTURA", 33),
        ("BOLETA O FACTURA", "Boleta", 39),
        ("Boleta ó Factura", "factura electronica", 33),
        ("Otro", "Factura", 39),
    ],
)
def test_document_type_from_checkout_field_case_and_accent_insensitive(label, value, expected):
    order = Order.model_validate({"id": 1, "additional_fields": [{"label": label, "value": value}]})
    assert choose_document_type(order) == expected


def test_native_billing_information_means_factura():
    order = Order.model_validate({"id": 1, "billing_information": {"company_name": "X SpA", "business_activity": "Y"}})
    assert choose_document_type(order) == 33


def test_factura_requirements_give_specific_spanish_reasons():
    base = build_order(5, factura=True)["order"]
    with pytest.raises(InvalidInput, match="RUT del receptor inválido.*dígito verificador"):
        build_document(
            Order.model_validate({**base, "billing_address": {**base["billing_address"], "taxid": "76086428-4"}})
        )
    no_giro = {
        **base,
        "billing_information": {"company_name": "X SpA"},
        "additional_fields": [{"label": "Boleta o Factura", "value": "Factura"}],
    }
    with pytest.raises(InvalidInput, match="Giro"):
        build_document(Order.model_validate(no_giro))
    long_giro = {**base, "billing_information": {"company_name": "X SpA", "business_activity": "G" * 80}}
    assert len(build_document(Order.model_validate(long_giro)).encabezado["receptor_giro"]) == 40
    fixed = build_document(
        Order.model_validate({**base, "billing_address": {**base["billing_address"], "taxid": "1"}}),
        {"receptor_rut": "76.086.428-5"},
    )
    assert fixed.encabezado["receptor_rut"] == "76086428-5"


def test_not_clp_or_zero_total_is_skipped_with_reason():
    with pytest.raises(SkipOrder, match="USD"):
        build_document(Order.model_validate(build_order(1, currency="USD")["order"]))
    with pytest.raises(SkipOrder, match="total 0"):
        build_document(Order.model_validate({**build_order(1)["order"], "total": 0}))


def test_amounts_that_do_not_add_up_need_attention():
    order = {**build_order(1)["order"], "total": 5}
    with pytest.raises(InvalidInput, match="no cuadran"):
        build_document(Order.model_validate(order))


def test_real_jumpseller_vectors_parse_and_usd_orders_are_skipped():
    body = json.loads((VECTORS / "webhook-order_paid.body.json").read_text())
    order = Order.model_validate(body["order"])
    assert order.id == 1026 and order.total == Decimal("369.2") and order.products[0].name == "Black"
    with pytest.raises(SkipOrder, match="USD"):
        build_document(order)
    for item in json.loads((VECTORS / "orders-status-paid.response.json").read_text()):
        parsed = Order.model_validate(item["order"])
        assert parsed.status_enum == "paid" and parsed.customer.email


@given(st.integers(1_000_000, 99_999_999))
def test_rut_normalisation_roundtrip(body):
    dv = stdnum_rut.calc_check_digit(str(body))
    rut = normalize_rut(with_dots(f"{body}-{dv}"))
    assert rut == f"{body}-{dv}"
    wrong = "0" if dv != "0" else "1"
    with pytest.raises(InvalidRut):
        normalize_rut(f"{body}-{wrong}")


@pytest.mark.parametrize("rut", ["66666666-6", "1111111-4", "60803000-K", "55555555-5", "96874030-K", "12345678-5"])
def test_reference_rut_vectors(rut):
    assert normalize_rut(rut.lower()) == rut
