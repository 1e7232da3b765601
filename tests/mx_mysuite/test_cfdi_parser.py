"""Every CFDI / Retenciones sample in vectors/mx parses, checked against the file's own content
(satcfdi, an independent parser, as the oracle) and against hand-read values for the traps."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from satcfdi.cfdi import CFDI

from conftest import VECTORS
from pasarela.core.xml import parse_xml  # noqa: F401  (the entry point the parser goes through)
from pasarela.providers.mx.cfdi import parser
from pasarela.providers.mx.cfdi.parser import CfdiError, parse_cfdi
from pasarela.providers.mx.mysuite import generator

CFDI_DIR = VECTORS / "mx" / "cfdi"
ALL_FILES = sorted(CFDI_DIR.glob("*/*.xml"))
ATTACKS = sorted((VECTORS / "xml-attacks").glob("*.xml"))


@pytest.fixture(params=["c", "lxml"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs twice: with the C reader, and with lxml only (skim, then whole file)."""
    if request.param == "lxml":
        monkeypatch.setattr(parser, "SCANNER", None)
    return str(request.param)


@pytest.fixture
def lxml_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "SCANNER", None)


def test_every_sample_is_found() -> None:
    assert len(ALL_FILES) == 62
    assert {p.parent.name for p in ALL_FILES} == {
        "cfdi32", "cfdi33", "cfdi40", "invalid", "retenciones10", "retenciones20"}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fields_match_an_independent_parser(path: Path, reader: str) -> None:
    record = parse_cfdi(path.read_bytes())
    oracle = CFDI.from_file(str(path))
    assert record["version"] == oracle["Version"]
    emisor = oracle["Emisor"]
    oracle_rfc = emisor.get("Rfc") or emisor.get("RfcE") or emisor.get("RFCEmisor")
    assert record["emisor_rfc"] == oracle_rfc.strip().upper()
    tfd = (oracle.get("Complemento") or {}).get("TimbreFiscalDigital")
    assert record["uuid"] == (tfd["UUID"].upper() if tfd else "")
    if path.parent.name.startswith("retenciones"):
        assert record["kind"] == "retenciones" and record["tipo"] == "R"
        totales = oracle["Totales"]
        assert Decimal(record["total"]) == Decimal(totales.get("MontoTotOperacion") or totales.get("montoTotOperacion"))
        assert Decimal(record["total_retenido"]) == Decimal(totales.get("MontoTotRet") or totales.get("montoTotRet"))
    else:
        assert record["kind"] == "cfdi"
        assert Decimal(record["total"]) == Decimal(oracle["Total"])
        assert record["receptor_rfc"] == oracle["Receptor"]["Rfc"].strip().upper()
        assert record["tipo"] in {"I", "E", "T", "N", "P"}
    if tfd:
        assert record["fecha_certificacion"] == tfd["FechaTimbrado"].isoformat()[:19].replace("T", " ")


def _by_name(name: str) -> dict:
    [path] = [p for p in ALL_FILES if p.name == name]
    return parse_cfdi(path.read_bytes())


def test_cfdi32_lower_case_attributes_and_special_rfc() -> None:
    r = _by_name("cfdv32-ejemplo.xml")
    assert (r["version"], r["tipo"], r["serie"], r["folio"]) == ("3.2", "I", "C", "38")
    assert r["receptor_rfc"] == "E&Ñ831019M53"
    assert r["uuid"] == "E403F396-6A57-4625-ADB4-BB436B00789F"
    assert (r["subtotal"], r["total"], r["moneda"]) == ("35000.00", "40600.00", "Pesos")
    assert r["fecha_emision"] == "2015-02-18 11:49:20"
    assert r["total_trasladado"] == "5600.00"


def test_leading_space_in_rfc_is_stripped_and_pagos10_amounts_come_from_the_complement() -> None:
    raw = (CFDI_DIR / "cfdi33" / "cfdv33-pagos10.xml").read_text()
    assert 'Rfc=" AAA010101AAA"' in raw
    r = _by_name("cfdv33-pagos10.xml")
    assert r["emisor_rfc"] == "AAA010101AAA"
    assert r["monto_pagado"] == "10.123"
    [pago] = json.loads(r["detalle"])["pagos"]
    assert pago["moneda"] == "ZWL" and pago["fecha_pago"] == "2017-05-01 02:01:01"
    [docto] = pago["documentos"]
    assert docto == {"id_documento": "DEADBEEF-CAFE-BABE-1234-123456789012", "serie": "Serie56", "folio": "Folio12",
                     "moneda": "ZWL", "parcialidad": "109", "saldo_anterior": "1.789", "pagado": "1.234",
                     "saldo_insoluto": "0.456"}


def test_pagos20_type_p_has_zero_total_and_paid_amounts_in_complement() -> None:
    r = _by_name("cfdv40-pagos20.xml")
    assert (r["tipo"], r["total"], r["moneda"]) == ("P", "0", "XXX")
    assert Decimal(r["monto_pagado"]) == Decimal("6066.66") + Decimal("5055.55") + Decimal("4044.44")
    pagos = json.loads(r["detalle"])["pagos"]
    assert [p["documentos"][0]["id_documento"] for p in pagos] == [
        "C1DF8D01-8436-4E7D-BECF-20F31624280D", "CB675288-97C8-45C2-9618-27FEF433AD59",
        "CB36554D-AF7B-4EBC-97CB-8C40FDFD9E20"]
    assert _by_name("cfdv33-pagos10-minok.xml")["monto_pagado"] == "10.12"


def test_retenciones_1_and_2() -> None:
    r1 = _by_name("retenciones10.xml")
    assert (r1["version"], r1["receptor_rfc"], r1["total"], r1["total_retenido"]) == (
        "1.0", "XAXX010101000", "14000.00", "3500.00")
    assert r1["uuid"] == "02C9D65B-DBE4-4DF4-ADEA-5172F8CBFF7C"
    assert r1["receptor_nombre"] == "PÚBLICO EN GENERAL S DE TST"
    r2 = _by_name("retenciones20-min.xml")
    assert (r2["emisor_rfc"], r2["emisor_nombre"], r2["receptor_rfc"]) == (
        "AAAA010101AAA", "PERSONA FÍSICA DE PRUEBA", "")
    assert r2["receptor_nombre"] == "PERSONA FISICA NACIONAL DE PRUEBA"  # extranjero
    assert json.loads(r2["detalle"])["periodo"] == {"MesIni": "01", "MesFin": "12", "Ejercicio": "2027"}


def test_bom_file_from_invalid_folder_parses_leniently() -> None:
    raw = (CFDI_DIR / "invalid" / "registro_fiscal.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    r = parse_cfdi(raw)
    assert (r["version"], r["emisor_rfc"], r["total"]) == ("3.3", "ABC123456ABC", "939.98")


def test_foreign_addenda_are_ignored() -> None:
    r = _by_name("cfdv-33-addenda.xml")
    assert (r["emisor_rfc"], r["total"]) == ("AAA010101AAA", "1500")


def test_whitespace_before_declaration_is_tolerated() -> None:
    raw = (CFDI_DIR / "cfdi40" / "cfdv40-ejemplo-signed-tfd.xml").read_bytes()
    r = parse_cfdi(b"\xef\xbb\xbf  \r\n" + raw)
    assert r["uuid"] == "499E9A70-36AC-448A-BBD9-F3F52102E4BE"


@pytest.mark.parametrize("path", ATTACKS, ids=lambda p: p.name)
def test_xml_attacks_are_refused(path: Path) -> None:
    with pytest.raises(CfdiError) as info:
        parse_cfdi(path.read_bytes())
    assert "DTD" in info.value.reason or "entidades" in info.value.reason


@pytest.mark.parametrize("data,reason", [
    (b"", "vacío"),
    (b"This is not an XML file", "mal formado"),
    (b"<?xml version='1.0'?><otro/>", "no es un CFDI"),
])
def test_malformed_inputs_have_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(CfdiError) as info:
        parse_cfdi(data)
    assert reason in info.value.reason


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        parse_cfdi(data)
    except CfdiError:
        pass


# ---- skimming: the Conceptos are cut out before parsing; the record must not change ---------------

def _generated(direction: str, start: datetime, end: datetime) -> list[bytes]:
    docs = generator.documents(("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV"), direction, "CFDIS", start, end, 40)
    return [generator.cfdi_xml(d) for d in docs]


GENERATED = (_generated("EMISOR", datetime(2021, 1, 1), datetime(2021, 2, 28))  # 3.3
             + _generated("RECEPTOR", datetime(2022, 11, 1), datetime(2023, 2, 28)))  # 3.3 / 4.0, with Pagos


def test_generated_documents_are_skimmed_and_give_the_full_parse_record(lxml_only: None) -> None:
    assert {b"pago20:Pagos" in d for d in GENERATED} == {True, False}
    assert {b"http://www.sat.gob.mx/cfd/4" in d for d in GENERATED} == {True, False}
    for data in GENERATED:
        assert parser._skim(data) is not None
        assert parse_cfdi(data) == parse_cfdi(data, fast=False)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_samples_give_the_same_record_skimmed_or_not(path: Path, lxml_only: None) -> None:
    data = path.read_bytes()
    assert parse_cfdi(data) == parse_cfdi(data, fast=False)


# Well-formed bits to put inside the Conceptos: markup that hides a fake closing tag, quotes, and
# the characters the skim looks for before trusting the bytes.
TRICKY = st.sampled_from([
    "<!-- </cfdi:Conceptos> -->", "<!-- <cfdi:Conceptos> -->", "<![CDATA[</cfdi:Conceptos>]]>",
    "<?pi </cfdi:Conceptos> ?>", "<cfdi:Concepto Descripcion='O&apos;Brien &amp; &lt;/cfdi:Conceptos&gt;'/>",
    '<cfdi:Concepto Descripcion="¿Qué? ¡Sí!"/>', "<cfdi:Conceptos/>",
    "<cfdi:Concepto>&#60;/cfdi:Conceptos></cfdi:Concepto>",
    '<x:Impuestos xmlns:x="urn:x" TotalImpuestosTrasladados="1"/>', "\n  ", "texto",
])


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(GENERATED[:20]), st.lists(TRICKY, max_size=4))
def test_tricky_conceptos_give_the_full_parse_record(data: bytes, inserts: list[str]) -> None:
    tricky = data.replace(b"<cfdi:Conceptos>", b"<cfdi:Conceptos>" + "".join(inserts).encode(), 1)
    assert parse_cfdi(tricky) == parse_cfdi(tricky, fast=False) == parse_cfdi(data)
    with patch.object(parser, "SCANNER", None):  # the skim (a fixture would outlive the examples)
        assert parse_cfdi(tricky) == parse_cfdi(data)


@pytest.mark.parametrize("conceptos", [b"<cfdi:Conceptos/>", b"<cfdi:Conceptos></cfdi:Conceptos >"])
def test_fake_closing_tag_in_a_later_comment(conceptos: bytes, lxml_only: None) -> None:
    """The real Conceptos is empty or closed as ``</cfdi:Conceptos >``, and a comment after the
    Impuestos holds ``</cfdi:Conceptos>``: cutting up to it would drop the Impuestos and still leave
    a well-formed file. Not skimmed (no exact opening tag; a ``!`` before the closing tag)."""
    data = GENERATED[0]
    start, end = data.index(b"<cfdi:Conceptos>"), data.index(b"</cfdi:Conceptos>") + len(b"</cfdi:Conceptos>")
    complemento = data.index(b"<cfdi:Complemento>")
    tricky = data[:start] + conceptos + data[end:complemento] + b"<!-- </cfdi:Conceptos> -->" + data[complemento:]
    assert parser._skim(tricky) is None
    record = parse_cfdi(tricky)
    assert record == parse_cfdi(data)
    assert record["total_trasladado"] and record["uuid"]


def test_certificado_inside_another_single_quoted_value_is_left_alone(lxml_only: None) -> None:
    data = GENERATED[0].replace(b' Version="3.3"', b" Version=\"3.3\" Serie=' Certificado=\"x'", 1)
    assert parse_cfdi(data)["serie"] == 'Certificado="x'
    assert parse_cfdi(data) == parse_cfdi(data, fast=False)


def test_another_prefix_for_the_cfdi_namespace_parses_the_whole_file(lxml_only: None) -> None:
    data = GENERATED[0]
    renamed = data.replace(b"cfdi:", b"c:").replace(b"xmlns:cfdi=", b"xmlns:c=")
    assert b"cfdi" not in renamed
    assert parser._skim(renamed) is None
    assert parse_cfdi(renamed) == parse_cfdi(data)


def test_non_ascii_encoding_declaration_is_not_skimmed(lxml_only: None) -> None:
    data = GENERATED[0].replace(b'encoding="UTF-8"', b'encoding="UTF-16"', 1)
    assert parser._skim(data) is None
