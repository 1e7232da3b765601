"""SAT package readers against the recorded zips, and the metadata traps from the reference."""

from __future__ import annotations

import io
import json
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import VECTORS
from pasarela.providers.mx.cfdi.metadata import (
    METADATA_FIELDS,
    METADATA_HEADER,
    iter_metadata,
    parse_metadata,
    split_records,
    store_values,
)
from pasarela.providers.mx.cfdi.packages import (
    MetadataPackage,
    iter_metadata_package,
    iter_xml_entries,
    open_package,
    read_metadata_package,
)
from pasarela.providers.mx.cfdi.parser import parse_cfdi

ZIPS = VECTORS / "mx" / "descarga-masiva" / "zip"
JSON_KEYS = {"uuid": "uuid", "rfcEmisor": "emisor_rfc", "nombreEmisor": "emisor_nombre",
             "rfcReceptor": "receptor_rfc", "nombreReceptor": "receptor_nombre", "rfcPac": "pac_rfc",
             "fechaEmision": "fecha_emision", "fechaCertificacionSat": "fecha_certificacion", "monto": "monto",
             "efectoComprobante": "efecto", "fechaCancelacion": "fecha_cancelacion",
             "rfcACuentaTerceros": "rfc_a_cuenta_terceros", "nombreACuentaTerceros": "nombre_a_cuenta_terceros"}


def _as_dicts(rows):  # type: ignore[no-untyped-def]
    return {r[0]: dict(zip(METADATA_FIELDS, r, strict=True)) for r in rows}


def test_metadata_zip_matches_expected_json_and_skips_junk() -> None:
    package = read_metadata_package(open_package(ZIPS / "metadata.zip"))
    assert package.files == ["45C5C344-DA01-497A-9271-5AA3852EE6AE_01.txt"]
    assert package.errors == []
    rows = _as_dicts(package.rows)
    expected = json.loads((ZIPS / "metadata.json").read_text())
    assert set(rows) == {u.upper() for u in expected}
    for uuid, fields in expected.items():
        row = rows[uuid.upper()]
        for key, column in JSON_KEYS.items():
            assert row[column] == fields[key], (uuid, key)
        assert row["estado"] == {"1": "vigente", "0": "cancelado"}[fields["estatus"]]


def test_metadata_txt_alone_equals_the_zip() -> None:
    parsed = parse_metadata((ZIPS / "metadata.txt").read_bytes())
    assert parsed.rows == read_metadata_package(open_package(ZIPS / "metadata.zip")).rows


def test_terceros_joined_case_insensitively() -> None:
    package = read_metadata_package(open_package(ZIPS / "metadata-terceros.zip"))
    rows = _as_dicts(package.rows)
    assert sorted(rows) == [f"11111111-AAAA-BBBB-0000-00000000000{i}" for i in range(1, 6)]
    got = {u[-1]: (r["rfc_a_cuenta_terceros"], r["nombre_a_cuenta_terceros"]) for u, r in rows.items()}
    assert got == {"1": ("", ""), "2": ("AAAA010101AA1", "PERSONA FISICA UNO"),
                   "3": ("AAAA010101AA2", "PERSONA FISICA DOS"), "4": ("AAAA010101AA3", "PERSONA FISICA TRES"),
                   "5": ("", "")}
    assert rows["11111111-AAAA-BBBB-0000-000000000005"]["monto"] == "999887.65"


def test_cfdi_zip_yields_two_cfdis_and_skips_junk() -> None:
    entries = list(iter_xml_entries(open_package(ZIPS / "cfdi.zip")))
    assert [n for n, _ in entries] == ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.xml",
                                       "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.xml.xml"]
    expected = (ZIPS / "cfdi.xml").read_bytes()
    assert all(data == expected for _, data in entries)
    record = parse_cfdi(entries[0][1])
    assert record["uuid"] == "11111111-2222-3333-4444-000000000001"
    assert record["pac_rfc"] == "FIN1203015JA"


def test_crlf_records_with_stray_lf_pipe_quoting_and_mixed_case() -> None:
    header = METADATA_HEADER
    row1 = "aaaaaaaa-bbbb-cccc-dddd-0000000000a1~AAA010101AAA~EMPRESA\nPARTIDA~BBB010101BBB~|ACME ~ HIJOS|~" \
           "CCC010101CCC~2023-01-02 10:00:00~2023-01-02 10:01:00~100.50~I~0~2023-03-01 09:00:00"
    row2 = "AAAAAAAA-BBBB-CCCC-DDDD-0000000000A2~aaa010101aaa~OTRA~BBB010101BBB~R~CCC010101CCC~" \
           "2023-01-03 10:00:00~2023-01-03 10:01:00~5~E~1~"
    data = (header + "\r\n" + row1 + "\r\n" + row2 + "\r\n").encode()
    parsed = parse_metadata(b"\xef\xbb\xbf" + data)
    assert parsed.errors == []
    rows = _as_dicts(parsed.rows)
    first = rows["AAAAAAAA-BBBB-CCCC-DDDD-0000000000A1"]
    assert first["emisor_nombre"] == "EMPRESAPARTIDA"
    assert first["receptor_nombre"] == "ACME ~ HIJOS"
    assert (first["estado"], first["fecha_cancelacion"]) == ("cancelado", "2023-03-01 09:00:00")
    second = rows["AAAAAAAA-BBBB-CCCC-DDDD-0000000000A2"]
    assert (second["emisor_rfc"], second["estado"], second["efecto"]) == ("AAA010101AAA", "vigente", "E")


def test_bad_lines_are_reported_and_the_rest_kept() -> None:
    data = (METADATA_HEADER + "\r\nnot-a-uuid~x~x~x~x~x~x~x~1~I~1~\r\ntoo~few\r\n"
            "aaaaaaaa-bbbb-cccc-dddd-0000000000a1~A~B~C~D~E~2023-01-01 00:00:00~2023-01-01 00:00:00~1~I~1~\r\n")
    parsed = parse_metadata(data.encode())
    assert len(parsed.rows) == 1
    assert len(parsed.errors) == 2
    assert "UUID inválido" in parsed.errors[0] and "campos" in parsed.errors[1]


def test_package_with_a_broken_metadata_file_reports_it_by_name() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ok-0001.txt", (ZIPS / "metadata.txt").read_bytes())
        zf.writestr("broken-0002.txt", "Uuid~x\r\nfoo~bar~baz\r\n")
    package = read_metadata_package(zipfile.ZipFile(buffer))
    assert len(package.rows) == 2
    assert package.errors and package.errors[0][0] == "broken-0002.txt"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.uuids(), st.text(alphabet=st.characters(blacklist_characters="~|\r\n\x00",
                                                                       blacklist_categories=("Cs",)), max_size=20),
                          st.sampled_from(["0", "1"])), min_size=1, max_size=20),
       st.booleans())
def test_metadata_roundtrip_property(rows, crlf) -> None:  # type: ignore[no-untyped-def]
    eol = "\r\n" if crlf else "\n"
    lines = [METADATA_HEADER]
    for uuid, name, status in rows:
        lines.append(f"{str(uuid).lower()}~AAA010101AAA~|{name}|~BBB010101BBB~R~CCC010101CCC~"
                     f"2023-01-01 00:00:00~2023-01-01 00:00:01~1.00~I~{status}~")
    parsed = parse_metadata(eol.join(lines).encode())
    assert parsed.errors == []
    assert [(r[0], r[2]) for r in parsed.rows] == [(str(u).upper(), n.strip()) for u, n, _ in rows]


def test_split_records_prefers_crlf() -> None:
    assert split_records("a~b\r\nc\nd~e\r\n") == ["a~b", "cd~e", ""]
    assert split_records("a~b\nc~d\n") == ["a~b", "c~d", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.uuids(), st.text(alphabet=st.characters(blacklist_characters="~|\r\n\x00",
                                                                       blacklist_categories=("Cs",)), max_size=12),
                          st.sampled_from(["0", "1", ""]), st.sampled_from(["", "1.00", " 25.50 "])),
                min_size=1, max_size=15))
def test_store_rows_built_in_one_pass_equal_the_two_step_rows(rows) -> None:  # type: ignore[no-untyped-def]
    """The worker builds the store's values while parsing (``for_store``): identical to parsing
    and then converting, on generated rows and on every metadata file of the vectors."""
    lines = [METADATA_HEADER] + [
        f"{uuid}~AAA010101AAA~{name}~BBB010101BBB~R~CCC010101CCC~2023-01-01 00:00:00~"
        f"2023-01-01 00:00:01~{monto}~I~{status}~" for uuid, name, status, monto in rows]
    samples = [("\r\n".join(lines) + "\r\n").encode(), (ZIPS / "metadata.txt").read_bytes()]
    for data in samples:
        errors: list[str] = []
        plain = list(iter_metadata(data, errors))
        fused = list(iter_metadata(data, [], for_store=True))
        assert fused == [store_values(r) for r in plain]
    for name in ("metadata.zip", "metadata-terceros.zip"):
        with open_package(ZIPS / name) as zf:
            plain_rows = [r for chunk in iter_metadata_package(zf, MetadataPackage()) for r in chunk]
            fused_rows = [r for chunk in iter_metadata_package(zf, MetadataPackage(), for_store=True) for r in chunk]
        assert plain_rows and fused_rows == [store_values(r) for r in plain_rows]
