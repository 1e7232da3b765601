from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasarela.core.xml import UnsafeXML, parse_xml

ATTACKS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "xml-attacks"


@pytest.mark.parametrize("name", sorted(p.name for p in ATTACKS.glob("*.xml")) or ["missing"])
def test_hostile_xml_is_refused(name: str):
    data = (ATTACKS / name).read_bytes()
    with pytest.raises(UnsafeXML):
        parse_xml(data)


def test_attack_vectors_present():
    assert len(list(ATTACKS.glob("*.xml"))) == 4


def test_plain_xml_with_bom_parses():
    root = parse_xml("\ufeff<?xml version='1.0' encoding='UTF-8'?><a><b>ñ</b></a>".encode())
    assert root.find("b").text == "ñ"


@given(st.binary(max_size=300))
def test_parser_never_crashes_with_anything_but_unsafexml(data: bytes):
    try:
        parse_xml(data)
    except UnsafeXML:
        pass
