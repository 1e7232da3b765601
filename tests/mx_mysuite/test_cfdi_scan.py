"""The C reader of CFDI index fields (``_cfdiscan``) against lxml, the reference.

Its contract: for any bytes it either declines (None) or the file is well-formed to lxml and the
record is the one lxml's tree gives. Tested on the real samples, generated documents, the XML
traps it must read or decline, mutations of real files and arbitrary bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import VECTORS
from pasarela.providers.mx.cfdi import parser
from pasarela.providers.mx.cfdi.parser import CfdiError, parse_cfdi
from pasarela.providers.mx.mysuite import generator

SAMPLES = sorted((VECTORS / "mx" / "cfdi").glob("*/*.xml"))
COMPANY = ("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV")
GENERATED = [generator.cfdi_xml(d) for d in generator.documents(
    COMPANY, "RECEPTOR", "CFDIS", datetime(2022, 11, 1), datetime(2023, 2, 28), 30)]


def c_record(data: bytes) -> dict | None:
    return parser._scanned_record(data)


def assert_declines_or_agrees(data: bytes) -> bool:
    """The contract; True when the C reader answered."""
    record = c_record(data)
    if record is None:
        return False
    # Well-formed to lxml itself, not only through the parser's lenient second chance.
    etree.fromstring(parser._normalized(data), parser._safe_parser())
    assert record == parse_cfdi(data, fast=False)
    return True


def test_the_c_reader_is_built() -> None:
    assert parser.SCANNER is not None, "the C extension was not built: install gcc and run `make install`"


def test_it_decodes_only_the_names_the_record_reads() -> None:
    names = parser._names_read()
    assert {"Version", "Rfc", "Nombre", "UUID", "FechaTimbrado", "Monto", "ImpPagado"} <= set(names)
    assert "Sello" not in names and "Certificado" not in names
    found = parser.SCANNER(GENERATED[0])
    assert found is not None and "Sello" not in found[2] and found[2]["Version"]


def test_generated_documents_are_all_read_and_agree() -> None:
    assert {b"pago20:Pagos" in d for d in GENERATED} == {True, False}
    for data in GENERATED:
        assert assert_declines_or_agrees(data)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_samples_decline_or_agree(path) -> None:
    assert_declines_or_agrees(path.read_bytes())


def test_most_real_cfdi_samples_are_read() -> None:
    """Comments, CDATA, text, line breaks in values and names such as Antigüedad are read; CFDI 3.2,
    Retenciones, broken files and an xmlns that is not a URI go to lxml."""
    read = [p for p in SAMPLES if c_record(p.read_bytes()) is not None]
    assert {p.parent.name for p in read} == {"cfdi33", "cfdi40"}
    assert len(read) >= 40
    assert any(b"Antig\xc3\xbcedad" in p.read_bytes() for p in read)


def _with_emisor_name(value: bytes) -> bytes:
    data = GENERATED[0]
    start = data.index(b'Nombre="', data.index(b"<cfdi:Emisor")) + len(b'Nombre="')
    return data[:start] + value + data[data.index(b'"', start):]


@pytest.mark.parametrize("raw,expected", [
    (b"MU\xc3\x91OZ &amp; ASOCIADOS", "MUÑOZ & ASOCIADOS"),
    (b"A\r\nB\tC\rD\nE", "A B C D E"),  # end-of-line handling, then each tab/CR/LF one space
    (b"&lt;&gt;&quot;&apos;", "<>\"'"),
    (b"O'Brien > 1", "O'Brien > 1"),
    (b"", ""),
])
def test_values_as_lxml_gives_them(raw: bytes, expected: str) -> None:
    data = _with_emisor_name(raw)
    assert assert_declines_or_agrees(data)
    assert c_record(data)["emisor_nombre"] == expected.strip()


def _insert_before_complemento(markup: bytes) -> bytes:
    data = GENERATED[0]
    at = data.index(b"<cfdi:Complemento>")
    return data[:at] + markup + data[at:]


@pytest.mark.parametrize("markup", [
    b"<!-- a -- b -->", b"<?pi x?>", b"<cfdi:Addenda Ref='&#60;'/>", b"<x:A/>", b"<cfdi:Addenda a='1' a='2'/>",
    b"<a:B xmlns:a=''/>", b"<a:B xmlns:a='http://x y'/>", b"<a:B xmlns:a='http://www.w3.org/2000/xmlns/'/>",
    b"<cfdi:Addenda>]]></cfdi:Addenda>", b"<cfdi:Addenda>&bogus;</cfdi:Addenda>", b"<cfdi:Addenda>&#0;</cfdi:Addenda>",
    b"<a:B:C xmlns:a='urn:a'/>", b"<cfdi:Addenda x:a='1' y:a='2' xmlns:x='urn:a' xmlns:y='urn:a'/>",
    b"<cfdi:Addenda a='1'b='2'/>", b"<cfdi:Addenda\xc3\x97/>", b"\xff", b"\x0b", b"<cfdi:Addenda></cfdi:Addend>",
])
def test_what_it_leaves_to_lxml(markup: bytes) -> None:
    data = _insert_before_complemento(markup)
    assert c_record(data) is None
    try:
        parse_cfdi(data)  # lxml's answer, whatever it is, is the parser's answer
    except CfdiError:
        pass


@pytest.mark.parametrize("markup", [
    b"<!-- un comentario -->", b"<cfdi:Addenda><![CDATA[ <x> ]] ]]></cfdi:Addenda>",
    b"<cfdi:Addenda>texto &amp; &#233; &#xE9;</cfdi:Addenda>", b"<n:Anexo xmlns:n='urn:mx:anexo' n:a='1' b='2'/>",
    b"<cfdi:Addenda xmlns='http://example.com/x'><Dato Antig\xc3\xbcedad='P1Y'/></cfdi:Addenda>",
])
def test_what_it_reads(markup: bytes) -> None:
    assert assert_declines_or_agrees(_insert_before_complemento(markup))


@pytest.mark.parametrize("change", [
    (b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>'),
    (b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.1"?>'),
    (b'<?xml version="1.0" encoding="UTF-8"?>', b'<!DOCTYPE x [<!ENTITY e "x">]>'),
    (b"xmlns:cfdi=", b"xmlns:other="),  # the cfdi prefix unbound
])
def test_prologs_and_namespaces_it_leaves_to_lxml(change: tuple[bytes, bytes]) -> None:
    assert c_record(GENERATED[0].replace(*change, 1)) is None


def test_bom_and_leading_whitespace_as_the_lxml_path() -> None:
    data = b"\xef\xbb\xbf \r\n\t" + GENERATED[0]
    assert assert_declines_or_agrees(data)


def test_a_truncated_file_is_never_read() -> None:
    data = GENERATED[1]
    for cut in range(0, len(data) - 1, 13):
        assert c_record(data[:cut]) is None


TOKENS = st.sampled_from([
    b"<", b">", b"/>", b"&", b"&amp;", b"&#10;", b"&#x0;", b";", b'"', b"'", b"=", b":", b" ", b"\r\n", b"\t",
    b"<!--", b"-->", b"--", b"<![CDATA[", b"]]>", b"<?", b"?>", b"\xc3\xb1", b"\xc3", b"\xff", b"\x00",
    b"xmlns:a='urn:a' ", b"a:b", b"xmlns='' ", b"Rfc='X' ", b"<cfdi:Emisor/>", b"</cfdi:Emisor>", b"x",
])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(GENERATED[:10] + [p.read_bytes() for p in SAMPLES[:20]])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data[at:at] = draw(TOKENS)
        else:
            del data[at:at + draw(st.integers(1, 8))]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutated_files_decline_or_agree(data: bytes) -> None:
    assert_declines_or_agrees(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_declined_without_error(data: bytes) -> None:
    assert parser.SCANNER(data) is None or assert_declines_or_agrees(data)


@pytest.fixture
def unconfigured() -> Iterator[None]:
    from pasarela.providers.mx.cfdi import _cfdiscan

    _cfdiscan.configure([])
    yield
    _cfdiscan.configure(parser._names_read())


def test_unconfigured_it_gives_every_unprefixed_attribute(unconfigured: None) -> None:
    found = parser.SCANNER(GENERATED[0])
    root = etree.fromstring(GENERATED[0])
    assert found[2] == {k: v for k, v in root.items() if not k.startswith("{")}


def test_configure_refuses_what_is_not_a_name() -> None:
    from pasarela.providers.mx.cfdi import _cfdiscan

    with pytest.raises(TypeError):
        _cfdiscan.configure([b"Rfc"])
    with pytest.raises(TypeError):
        _cfdiscan.configure([""])
    _cfdiscan.configure(parser._names_read())
    assert assert_declines_or_agrees(GENERATED[0])
