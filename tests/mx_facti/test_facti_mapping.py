"""Validation and normalisation before anything is sent to Facti."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasarela.core.errors import InvalidInput
from pasarela.providers.mx.facti.client import envelope_ok, parse_body, php_form
from pasarela.providers.mx.facti.mapping import build_new_request, idempotency_key, round_up_cents

TODAY = date(2025, 1, 15)
BASE = {"folio": "10", "to_client_name": "Cliente", "to_email": "a@b.mx", "total_amount": "100"}


def build(**changes: object) -> dict:
    return build_new_request({**BASE, **changes}, default_from_rfc="EKU9003173C9", today=TODAY)


def test_seed_rounding_example() -> None:
    assert round_up_cents(Decimal("242.831")) == Decimal("242.84")
    assert build(total_amount="242.831")["total_amount"] == "242.84"


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000000"), places=5))
def test_round_up_is_a_ceiling_to_cents(amount: Decimal) -> None:
    rounded = round_up_cents(amount)
    assert rounded >= amount
    assert rounded - amount < Decimal("0.01")
    assert rounded == rounded.quantize(Decimal("0.01"))


def test_grouped_sum_mismatch_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match=r"suma de total_amounts \(150.00\) no coincide con total_amount \(100.00\)"):
        build(folios=["1", "2"], total_amounts=["100", "50"])


def test_grouped_request_forces_folio_1_and_empty_series() -> None:
    params = build(folio="", folios=["7", "8"], total_amounts=["60.001", "39.99"], total_amount="100.00")
    assert params["folio"] == "1"
    assert params["series"] == ["", ""]
    assert params["total_amounts"] == ["60.01", "39.99"]


def test_grouped_lengths_must_match() -> None:
    with pytest.raises(InvalidInput, match="series"):
        build(folios=["1", "2"], series=["A"], total_amounts=["50", "50"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("to_email", "a@b.mx;no-es-correo", "no es un correo"),
        ("to_email", "", "obligatorio"),
        ("to_rfc", "CGM011210S72", "dígito verificador"),
        ("from_rfc", "NOPE", "no es válido"),
        ("limit_payment_date", "2025-02-30", "AAAA-MM-DD"),
        ("limit_payment_date", "15/02/2025", "AAAA-MM-DD"),
        ("limit_payment_date", "2025-01-01", "anterior a hoy"),
        ("total_amount", "abc", "no es un importe"),
        ("total_amount", "-1", "mayor que cero"),
        ("status", "2", "0 o 1"),
        ("folio", "", "obligatorio"),
        ("to_client_name", " ", "obligatorio"),
    ],
)
def test_bad_input_names_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        build(**{field: value})
    assert info.value.field == field


def test_emails_are_normalised_and_generic_rfc_allowed() -> None:
    params = build(to_email=" a@b.mx ; c@d.com ", to_rfc="xaxx010101000")
    assert params["to_email"] == "a@b.mx;c@d.com"
    assert params["to_rfc"] == "XAXX010101000"


def test_conceptos_and_invoice_receiver() -> None:
    with pytest.raises(InvalidInput, match="faltan unit"):
        build(conceptos=[{"quantity": 1, "description": "x", "pu": 2}])
    with pytest.raises(InvalidInput, match="invoice_receiver"):
        build(generate_invoice=1)
    params = build(
        generate_invoice="1",
        invoice_receiver={"rfc": "XAXX010101000", "nombre": "Público"},
        conceptos=[{"quantity": 2, "unit": "PIEZA", "description": "Monitor", "pu": 2500.00, "total": 5000}],
    )
    assert params["conceptos"][0] == {
        "quantity": "2",
        "unit": "PIEZA",
        "description": "Monitor",
        "pu": "2500.0",
        "total": "5000",
    }


def test_idempotency_key_from_caller_or_invoice() -> None:
    assert idempotency_key(build(serie="A"), None) == "facti:EKU9003173C9:A:10"
    assert idempotency_key(build(), "order-7") == "facti:key:order-7"
    grouped = build(folios=["1", "2"], series=["A", ""], total_amounts=["50", "50"])
    assert idempotency_key(grouped) == "facti:EKU9003173C9:grupo:A-1,-2"


def test_php_form_encoding() -> None:
    pairs = php_form(
        {"folios": ["1", "2"], "conceptos": [{"quantity": "2"}], "invoice_receiver": {"rfc": "X"}, "n": None}
    )
    assert pairs == [
        ("folios[]", "1"),
        ("folios[]", "2"),
        ("conceptos[0][quantity]", "2"),
        ("invoice_receiver[rfc]", "X"),
    ]


def test_envelope_parsing_accepts_seed_js_literals_and_status_flag() -> None:
    body = parse_body("{ result: 1, msg: '', payments: [ { id: 9, serie: '', total_amount: 111.11, }, ] }")
    assert body["payments"][0]["total_amount"] == Decimal("111.11")
    assert envelope_ok(body)
    assert envelope_ok({"status": "1"}) and not envelope_ok({"result": 0, "msg": "x"})
