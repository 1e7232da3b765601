"""The simulator applies the SAT's rules (5005, 5002, dates, FIEL) and MYSuite's list paging,
driven through our real client over HTTP on loopback."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from conftest import serve_asgi
from pasarela.config import Settings
from pasarela.core.errors import NeedsAttention
from pasarela.core.transport import ProviderHTTP
from pasarela.providers.mx.mysuite.client import Fiel, MySuiteClient
from pasarela.providers.mx.mysuite.config import PACKAGE_FIEL, TEST_FIEL_PASSWORD
from pasarela.providers.mx.mysuite.simulator import create_app
from pasarela.providers.mx.mysuite.transactions import ASMX_PATH

START, END = "2024-01-01 00:00:00", "2024-01-31 23:59:59"


@pytest.fixture
def sim(tmp_path):  # type: ignore[no-untyped-def]
    raw = {"mx": {"mysuite": {"sim_accept_seconds": 0.5, "sim_finish_seconds": 1.0}}, "simulators": {"persist": False}}
    settings = Settings(raw=raw, home=tmp_path, path=tmp_path / "pasarela.toml")
    with serve_asgi(create_app(settings)) as base_url:
        yield base_url


def _client(base_url: str, password: str = TEST_FIEL_PASSWORD, audit: list | None = None) -> MySuiteClient:
    fiel = Fiel.from_files(PACKAGE_FIEL / "EKU9003173C9.cer", PACKAGE_FIEL / "EKU9003173C9.key", password)

    def http(extra: list[str]) -> ProviderHTTP:
        return ProviderHTTP("mysuite", secrets=[*fiel.secrets(), *extra],
                            audit=(audit.append if audit is not None else lambda r: None))

    return MySuiteClient(base_url + ASMX_PATH, requestor="r", user="u", username="MX.EKU9003173C9.u",
                         rfc="EKU9003173C9", fiel=fiel, http=http)


def test_duplicate_active_then_lifetime_limit_metadata_exempt(sim: str) -> None:
    client = _client(sim)
    [first] = client.register("CFDIS", "CFDI", "EMISOR", START, END)
    assert first.accepted and first.request_id
    [dup] = client.register("CFDIS", "CFDI", "EMISOR", START, END)
    assert dup.code == "5005"
    time.sleep(1.1)  # first one finished
    [second] = client.register("CFDIS", "CFDI", "EMISOR", START, END)
    assert second.accepted
    time.sleep(1.1)
    [third] = client.register("CFDIS", "CFDI", "EMISOR", START, END)
    assert third.code == "5002"
    [other] = client.register("CFDIS", "CFDI", "EMISOR", START, "2024-01-31 23:59:58")  # 1 s less: new period
    assert other.accepted
    for _ in range(3):
        [meta] = client.register("CFDIS", "Metadata", "EMISOR", START, END)
        assert meta.accepted
        time.sleep(1.1)


def test_ambos_registers_one_request_per_combination_and_list_pages(sim: str) -> None:
    client = _client(sim)
    answers = client.register("AMBOS", "AMBOS", "EMISOR", START, END)
    assert len(answers) == 4 and all(a.accepted for a in answers)
    assert {(a.servicio, a.tipo) for a in answers} == {("CFDIS", "CFDI"), ("CFDIS", "Metadata"),
                                                       ("RETENCIONES", "CFDI"), ("RETENCIONES", "Metadata")}
    page = client.list_requests(page=1, page_size=3, order="Servicio DESC, TipoSolicitud ASC")
    assert (page.total_lines, page.total_pages, len(page.lines)) == (4, 2, 3)
    assert [(line["Servicio"], line["TipoSolicitud"]) for line in page.lines] == [
        ("RETENCIONES", "CFDI"), ("RETENCIONES", "Metadata"), ("CFDIS", "CFDI")]
    filtered = client.list_requests(filters=[("Servicio", "=", "RETENCIONES", "")])
    assert filtered.total_lines == 2


def test_request_lifecycle_packages_and_download(sim: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = _client(sim)
    [reg] = client.register("CFDIS", "Metadata", "RECEPTOR", START, END)
    assert client.get_request(reg.request_id).estado == "1"
    time.sleep(1.1)
    status = client.get_request(reg.request_id)
    assert (status.estado, status.codigo) == ("3", "5000") and status.packages == [f"{reg.request_id}_01"]
    url = client.get_link(reg.request_id, status.packages[0])
    size, sha = client.download(url, tmp_path / "p.zip")
    assert size > 100 and len(sha) == 64


def test_date_rules_and_wrong_fiel_password(sim: str) -> None:
    client = _client(sim)
    with pytest.raises(Exception) as info:
        client.register("CFDIS", "CFDI", "EMISOR", END, START)
    assert "301" in str(info.value)
    old = (datetime.now() - timedelta(days=7 * 365)).strftime("%Y-%m-%d 00:00:00")
    with pytest.raises(Exception) as info:
        client.register("CFDIS", "CFDI", "EMISOR", old, END)
    assert "6 años" in str(info.value)
    audit: list = []
    wrong = _client(sim, password="otra-clave-123", audit=audit)
    with pytest.raises(NeedsAttention) as info:
        wrong.register("CFDIS", "CFDI", "EMISOR", START, END)
    assert "contraseña" in info.value.message and "otra-clave-123" not in info.value.message
    assert audit and all("otra-clave-123" not in str(r) and "FielPass" not in str(r) for r in audit)
    assert "<ws:Data1>***</ws:Data1>" in audit[0]["request_body"]
