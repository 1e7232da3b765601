"""Money, ids, dates and the checks made before paying (property tests where they pay off)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasarela.core.errors import InvalidInput
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan import mapping

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100)


@given(cents)
def test_amount_survives_string_number_and_wire(amount: Decimal) -> None:
    assert mapping.parse_monto(str(amount)) == amount
    assert mapping.parse_monto(float(amount)) == amount
    # what we send as `Monto` (a JSON number) reads back as the same two-decimal amount
    assert Decimal(repr(mapping.monto_wire(amount))).quantize(Decimal("0.01")) == amount


@given(st.decimals(min_value=0, max_value=100000, allow_nan=False, allow_infinity=False, places=6))
def test_rounding_is_half_up_to_centavos(amount: Decimal) -> None:
    rounded = mapping.redondeo_bob(amount)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - amount) <= Decimal("0.005")


def test_rounding_half_up_example() -> None:
    assert mapping.redondeo_bob(Decimal("136.765")) == Decimal("136.77")
    assert mapping.redondeo_bob(Decimal("136.764")) == Decimal("136.76")


@pytest.mark.parametrize("bad", ["abc", "", "1e999999", "NaN", "-5"])
def test_bad_amounts_are_clear_errors(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        mapping.parse_monto(bad)
    assert err.value.field == "monto"


@given(st.integers(1900, 2999), st.integers(1, 12))
def test_valid_periods(year: int, month: int) -> None:
    assert mapping.check_periodo(f"{year}{month:02d}") == f"{year}{month:02d}"


@pytest.mark.parametrize("bad", ["2021-10", "202113", "202100", "20211", "octubre"])
def test_invalid_periods(bad: str) -> None:
    with pytest.raises(InvalidInput, match="AAAAMM"):
        mapping.check_periodo(bad)


@pytest.mark.parametrize("bad", ["", "34 5", "345;DROP", "x" * 21])
def test_invalid_contracts(bad: str) -> None:
    with pytest.raises(InvalidInput, match="contrato"):
        mapping.check_contrato(bad)


def test_fecha_pago_is_seed_format_in_bolivia_time() -> None:
    moment = mapping.parse_fecha_pago("26/11/2021 12:11:52")
    assert moment == datetime(2021, 11, 26, 16, 11, 52, tzinfo=A.BOLIVIA_TZ).astimezone(A.BOLIVIA_TZ).replace(hour=12)
    assert moment.utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]
    assert mapping.bolivia_date(datetime.fromisoformat("2021-11-06T02:00:00+00:00")).isoformat() == "2021-11-05"


@given(st.one_of(st.integers(0, 10**12), st.integers(0, 10**12).map(str)))
def test_ids_are_strings_whatever_the_wire_type(value: object) -> None:
    assert mapping.ident(value) == str(value)
    assert mapping.ident(float(int(str(value)))) == str(value) if int(str(value)) < 2**53 else True


def _debt(monto: str = "136.76") -> mapping.Deuda:
    return mapping.deuda_from_wire(
        {
            "ID": 316,
            "Nombre": "Rivas",
            "CodUbicacion": 14207,
            "periodo": "202110",
            "factura": 4294633,
            "montoTotal": monto,
            "estado": 1,
        }
    )


def test_debt_from_seed_example_is_typed() -> None:
    debt = _debt()
    assert debt.monto == Decimal("136.76") and debt.factura == "4294633" and debt.id_asociado == "316"


def test_amount_must_match_the_debt_with_reason() -> None:
    debt = _debt()
    assert mapping.check_amount(debt, None) == Decimal("136.76")
    assert mapping.check_amount(debt, Decimal("136.760")) == Decimal("136.76")
    with pytest.raises(InvalidInput) as err:
        mapping.check_amount(debt, Decimal("100"))
    assert "no coincide" in err.value.message and "136.76" in err.value.message and err.value.field == "monto"


def test_payment_request_uses_seed_names_and_types() -> None:
    body = mapping.pago_request("345", _debt())
    assert body == {
        "IdFactura": 4294633,
        "Periodo": "202110",
        "Contrato": "345",
        "Monto": 136.76,
        "IdAsociado": "316",
    }


@pytest.mark.parametrize(
    "envelope,ok",
    [
        ({"error": 0, "status": 1}, True),
        ({"error": "0", "status": "1"}, True),
        ({"error": 1, "status": 0}, False),
        ({"error": 0, "status": 0}, False),
        ({"status": 1}, False),
    ],
)
def test_envelope_success_needs_error_0_and_status_1(envelope: dict, ok: bool) -> None:
    assert A.envelope_ok(envelope) is ok


def test_report_tolerates_the_seed_string_and_rows() -> None:
    day = mapping.check_fecha("2021-11-05")
    seed = mapping.reporte_from_wire(day, "Transacción realizada con éxito", "")
    assert not seed.has_rows and seed.rows == []
    rows = mapping.reporte_from_wire(
        day,
        [
            {
                "IdCobranza": 4224408,
                "IdFactura": 4303567,
                "Contrato": "315",
                "Periodo": "202110",
                "Monto": "145.70",
                "Estado": "pagado",
            }
        ],
        "",
    )
    assert rows.rows[0].id_cobranza == "4224408" and rows.rows[0].monto == Decimal("145.70")
    assert rows.rows[0].estado == A.REPORT_STATE_PAID
