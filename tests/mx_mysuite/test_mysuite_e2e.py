"""Acceptance 1, 2 and 4 against the real server, the real CLI and the MYSuite simulator."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from conftest import LiveServer
from pasarela.providers.mx.cfdi.store import file_sha256
from pasarela.providers.mx.mysuite import generator
from pasarela.providers.mx.mysuite.config import PACKAGE_FIEL, TEST_FIEL_PASSWORD
from pasarela.providers.mx.mysuite.flow import open_store

COMPANY = ("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV")
FAST_SIM = {
    "PASARELA_MX__MYSUITE__SIM_ACCEPT_SECONDS": "0.2",
    "PASARELA_MX__MYSUITE__SIM_FINISH_SECONDS": "0.5",
    "PASARELA_MX__MYSUITE__SIM_POLL_SECONDS": "0.2",
}


@pytest.fixture
def mx(server_factory: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    for key, value in FAST_SIM.items():
        monkeypatch.setenv(key, value)
    return server_factory


def _expected(direction: str, start: str, end: str) -> set[str]:
    docs = generator.documents(COMPANY, direction, "CFDIS", datetime.fromisoformat(start),
                               datetime.fromisoformat(end + "T23:59:59"), 20)
    return {d.uuid for d in docs}


def _cli(live: LiveServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pasarela", *args], env=live.env(**env), capture_output=True,
                          text=True, timeout=240)


def _uuids(live: LiveServer) -> list[str]:
    with live.rt.db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT uuid FROM mx_cfdi"))]


def _inspect(live: LiveServer) -> dict:
    return httpx.get(f"{live.url}/sim/mysuite/_inspect", timeout=10).json()


def test_a_year_of_issued_cfdi_is_searchable_and_exports_and_is_never_asked_twice(
    mx: LiveServer, tmp_path: Path
) -> None:
    mx.start()
    done = _cli(mx, "mx", "download", "--issued", "--xml", "--from", "2024-01-01", "--to", "2024-12-31")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "done" in done.stdout and "2024-12-01 → 2024-12-31" in done.stdout  # the progress table
    expected = _expected("EMISOR", "2024-01-01", "2024-12-31")
    assert len(expected) > 150
    assert sorted(_uuids(mx)) == sorted(expected)

    found = _cli(mx, "mx", "cfdi", "search", "--from", "2024-06-01", "--to", "2024-06-30", "--json")
    import json

    june = json.loads(found.stdout)
    assert june["total"] == len(_expected("EMISOR", "2024-06-01", "2024-06-30"))
    assert all(item["fecha_emision"].startswith("2024-06") and item["emisor_rfc"] == COMPANY[0]
               for item in june["items"])

    xlsx = tmp_path / "emitidos.xlsx"
    exported = _cli(mx, "mx", "cfdi", "export", "--xlsx", "--output", str(xlsx))
    assert exported.returncode == 0, exported.stderr
    sheet = load_workbook(xlsx, read_only=True)["CFDI"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "UUID" and len(rows) == len(expected) + 1
    assert {r[0] for r in rows[1:]} == expected

    with mx.api() as api:
        body = api.get("/api/mx/cfdi", params={"type": "I", "per_page": 5}).json()
        assert body["total"] > 0 and all(i["tipo"] == "I" for i in body["items"])
        uuid = body["items"][0]["uuid"]
        assert api.get(f"/api/mx/cfdi/{uuid}/xml").text.count(uuid) == 1
        assert api.get("/api/mx/cfdi/summary").json()["items"]
        requests_api = api.get("/api/mx/requests").text

    # Acceptance 2: the same year again → nothing new at MYSuite, with the explanation.
    registrations = _inspect(mx)["registrations"]
    again = _cli(mx, "mx", "download", "--issued", "--xml", "--from", "2024-01-01", "--to", "2024-12-31")
    assert again.returncode == 2
    assert "ya fue solicitado" in again.stdout and "5002" in again.stdout and "--force" in again.stdout
    assert _inspect(mx)["registrations"] == registrations
    one_month = _cli(mx, "mx", "download", "--issued", "--xml", "--from", "2024-03-05", "--to", "2024-03-09")
    assert one_month.returncode == 2 and "solicitud #3" in one_month.stdout  # covered by March's request
    assert _inspect(mx)["registrations"] == registrations

    # The FIEL key and password never reach audit rows, logs or the API.
    key_b64 = base64.b64encode((PACKAGE_FIEL / "EKU9003173C9.key").read_bytes()).decode()
    with mx.rt.db.engine.connect() as conn:
        audit = " ".join(str(v) for row in conn.execute(text("SELECT * FROM provider_calls")) for v in row)
        documents = " ".join(str(v) for row in conn.execute(text("SELECT * FROM documents")) for v in row)
    assert "REGISTRAR_SOLICITUD_DM_SAT" in audit
    logs = mx.log_path.read_text() + done.stdout + done.stderr
    for haystack in (audit, documents, logs, requests_api, json.dumps(_inspect(mx))):
        assert TEST_FIEL_PASSWORD not in haystack
        assert key_b64[:40] not in haystack
        assert "FielPass" not in haystack


def test_killed_during_download_and_during_ingest_then_run_again_completes(mx: LiveServer) -> None:
    mx.start(workers=0)  # only the CLI works the jobs, so killing it stops everything
    args = ("mx", "download", "--received", "--xml", "--from", "2024-01-01", "--to", "2024-02-29")
    crashed = _cli(mx, *args, PASARELA_MX__MYSUITE__FAULT_CRASH_AT="download")
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    with mx.rt.db.engine.connect() as conn:
        states = [r[0] for r in conn.execute(text("SELECT state FROM mx_sat_packages"))]
    assert states and "ingested" not in states
    assert _uuids(mx) == []

    resumed = _cli(mx, *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "en curso retomadas" in resumed.stdout
    expected = _expected("RECEPTOR", "2024-01-01", "2024-02-29")
    received = {d.uuid for d in generator.documents(COMPANY, "RECEPTOR", "CFDIS", datetime(2024, 1, 1),
                                                    datetime(2024, 2, 29, 23, 59, 59), 20) if d.vigente}
    assert received and received <= expected
    assert sorted(_uuids(mx)) == sorted(received)  # received CFDI: vigentes only
    assert _inspect(mx)["registrations"] == 2  # two months, each registered exactly once

    # Ingest killed after its first committed batch (batches of 5).
    ingest_args = ("mx", "download", "--issued", "--xml", "--from", "2024-03-01", "--to", "2024-03-31")
    crashed = _cli(mx, *ingest_args, PASARELA_MX__MYSUITE__FAULT_CRASH_AT="ingest:1",
                   PASARELA_MX__MYSUITE__INGEST_BATCH_SIZE="5")
    assert crashed.returncode == 137
    partial = len(_uuids(mx)) - len(received)
    march = _expected("EMISOR", "2024-03-01", "2024-03-31")
    assert 0 < partial < len(march)
    resumed = _cli(mx, *ingest_args, PASARELA_MX__MYSUITE__INGEST_BATCH_SIZE="5")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(_uuids(mx)) == sorted(received | march)
    with mx.rt.db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM mx_sat_requests")).scalar() == 3
        # Every XML kept once, inside the SAT packages the store keeps: one file per package downloaded.
        kept = conn.execute(text("SELECT COUNT(*) FROM mx_cfdi_packages")).scalar()
        downloaded = conn.execute(text("SELECT COUNT(*) FROM mx_sat_packages WHERE state = 'ingested'")).scalar()
        assert conn.execute(text("SELECT COUNT(*) FROM mx_cfdi_xml")).scalar() == 0
    store = open_store(mx.rt)
    files = sorted(store.packages_dir.glob("*.zip"))
    assert kept == downloaded == len(files) >= 3
    assert all(file_sha256(str(f)) == f.stem for f in files)  # named by the digest the download computed
    assert all(uuid in store.xml(uuid).decode().upper() for uuid in received | march)
    assert _inspect(mx)["registrations"] == 3


def test_lost_registration_answer_is_resolved_through_the_list_not_resent(mx: LiveServer) -> None:
    mx.start()
    httpx.post(f"{mx.url}/sim/mysuite/_faults", json={"drop_next": 1}, timeout=10)
    done = _cli(mx, "mx", "download", "--issued", "--metadata", "--from", "2024-05-01", "--to", "2024-05-31")
    assert done.returncode == 0, done.stderr[-2000:]
    sim = _inspect(mx)
    assert sim["registrations"] == 1 and len(sim["requests"]) == 1
    with mx.rt.db.engine.connect() as conn:
        state, mysuite_id = conn.execute(text("SELECT state, mysuite_id FROM mx_sat_requests")).one()
        reasons = [r[0] for r in conn.execute(text("SELECT reason FROM transitions ORDER BY id"))]
    assert (state, mysuite_id) == ("done", sim["requests"][0]["Id"])
    assert any("tras respuesta perdida" in r for r in reasons)
    expected = _expected("EMISOR", "2024-05-01", "2024-05-31")
    assert sorted(_uuids(mx)) == sorted(expected)
    with mx.rt.db.engine.connect() as conn:
        estados = {r[0] for r in conn.execute(text("SELECT estado FROM mx_cfdi"))}
    assert estados <= {"vigente", "cancelado"} and "vigente" in estados


def test_killed_after_the_registration_was_stored_resumes_without_registering_again(mx: LiveServer) -> None:
    """The answer is in our table but the document still says `submitting`: no second registration (SAT 5005)."""
    mx.start(workers=0)
    args = ("mx", "download", "--received", "--xml", "--from", "2024-04-01", "--to", "2024-04-30")
    crashed = _cli(mx, *args, PASARELA_MX__MYSUITE__FAULT_CRASH_AT="registered")
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    with mx.rt.db.engine.connect() as conn:
        assert conn.execute(text("SELECT d.state FROM documents d JOIN mx_sat_requests r ON r.document_id = d.id")
                            ).scalar() == "submitting"
    assert _inspect(mx)["registrations"] == 1

    resumed = _cli(mx, *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _inspect(mx)["registrations"] == 1
    with mx.rt.db.engine.connect() as conn:
        state, message = conn.execute(text("SELECT state, message FROM mx_sat_requests")).one()
        reasons = [r[0] for r in conn.execute(text("SELECT reason FROM transitions ORDER BY id"))]
    assert state == "done", message
    assert any("respuesta ya guardada" in r for r in reasons)
    received = {d.uuid for d in generator.documents(COMPANY, "RECEPTOR", "CFDIS", datetime(2024, 4, 1),
                                                    datetime(2024, 4, 30, 23, 59, 59), 20) if d.vigente}
    assert received and sorted(_uuids(mx)) == sorted(received)


def test_env_is_not_leaking_between_tests() -> None:
    assert "PASARELA_MX__MYSUITE__FAULT_CRASH_AT" not in os.environ
