"""RFC and CLABE helpers shared by the Mexican providers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasarela.providers.mx.identifiers import (
    InvalidRFC,
    clabe_check_digit,
    is_valid_clabe,
    is_valid_rfc,
    make_clabe,
    validate_rfc,
)

VALID_RFCS = [
    "CAMA911215CJ0",
    "COSC8001137NA",
    "SORC591116FJ6",
    "DIM8701081LA",
    "A&A050908GT0",
    "SAT970701NN3",
    "AÑÑ801231JK0",
    "EKU9003173C9",
    "MSE090205D9A",
    "XIQB891116QE4",
    "JES900109Q90",
    "H&E951128469",
]


@pytest.mark.parametrize("rfc", VALID_RFCS)
def test_reference_rfcs_pass_with_check_digit(rfc: str) -> None:
    assert validate_rfc(rfc) == rfc


@pytest.mark.parametrize("rfc", ["XAXX010101000", "XEXX010101000", " xaxx010101000 "])
def test_generic_rfcs_always_pass(rfc: str) -> None:
    assert validate_rfc(rfc) == rfc.strip().upper()


def test_seed_rfc_fails_check_digit_but_passes_format() -> None:
    with pytest.raises(InvalidRFC, match="dígito verificador"):
        validate_rfc("CGM011210S72")
    assert is_valid_rfc("CGM011210S72", check_digit=False)


@pytest.mark.parametrize("rfc", ["", "ABC", "CAMA911315CJ0", "CAMA91121CJ0", "1234567890123"])
def test_bad_rfc_format(rfc: str) -> None:
    with pytest.raises(InvalidRFC, match="no es válido"):
        validate_rfc(rfc, check_digit=False)


@pytest.mark.parametrize(
    "clabe",
    [
        "002000000000000008",
        "646180110400000007",
        "646180157036325892",
        "072691004495711499",
        "723010123456789019",
        "646180109301000010",
        "646180109302000019",
    ],
)
def test_reference_clabes(clabe: str) -> None:
    assert is_valid_clabe(clabe)


def test_invalid_clabes() -> None:
    assert not is_valid_clabe("002000000000000007")
    assert not is_valid_clabe("64618010930100001")
    assert not is_valid_clabe("64618010930100001X")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_made_clabe_is_valid_and_any_single_digit_change_is_caught(first17: str) -> None:
    clabe = make_clabe(first17)
    assert is_valid_clabe(clabe)
    for pos in range(17):
        changed = first17[:pos] + str((int(first17[pos]) + 1) % 10) + first17[pos + 1 :]
        assert clabe_check_digit(changed) != clabe[17]
