"""Round 2 of the bulk ingest: metadata decoded a piece at a time, parsed in a worker process
(light entry module) while this one writes, search indexes rebuilt around a large load; the
worker protocol reports a dead worker instead of hanging."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from conftest import VECTORS
from pasarela.providers.mx.cfdi import store as store_module
from pasarela.providers.mx.cfdi.metadata import METADATA_HEADER, iter_lines, split_records
from pasarela.providers.mx.cfdi.procs import WorkerDied, WorkerProcess
from pasarela.providers.mx.cfdi.store import CfdiStore
from pasarela.runtime import Runtime

ZIPS = VECTORS / "mx" / "descarga-masiva" / "zip"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="ab~|Ñ\r\n", max_size=12), max_size=12), st.sampled_from(["\r\n", "\n"]),
       st.integers(min_value=1, max_value=16), st.booleans())
def test_lines_in_pieces_equal_the_whole_file(records, eol, piece, bom) -> None:  # type: ignore[no-untyped-def]
    data = ("\ufeff" if bom else "") + eol.join(records) + eol
    whole = split_records(data.removeprefix("\ufeff"))
    assert list(iter_lines(data.encode(), piece_bytes=piece)) == whole


def _metadata_zip(path: Path, rows: int) -> list[str]:
    uuids = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(rows)]
    lines = [METADATA_HEADER] + [
        f"{u}~AAA010101AAA~Emisor Ñ~BBB010101BBB~Receptor~CCC010101CCC~2024-01-0{1 + i % 9} 10:00:00~"
        f"2024-01-0{1 + i % 9} 10:00:01~{i}.50~I~{i % 2}~" for i, u in enumerate(uuids)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.txt", "\r\n".join(lines) + "\r\n")
        zf.writestr("broken.txt", "Uuid~x\r\nfoo~bar~baz\r\n")
    return [u.upper() for u in uuids]


def _state(store: CfdiStore) -> tuple[list[tuple], set[str]]:
    with store.db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(
            "SELECT uuid, emisor_nombre, total, tipo, estado, has_metadata FROM mx_cfdi ORDER BY uuid"))]
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("mx_cfdi")}
    return rows, indexes


@pytest.mark.parametrize("processes", [1, 2])
def test_metadata_worker_and_index_rebuild_give_the_same_store(rt: Runtime, tmp_path: Path, monkeypatch,
                                                               processes: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(store_module, "METADATA_POOL_ROWS", 10)
    monkeypatch.setattr(store_module, "REBUILD_MIN_ROWS", 10)
    monkeypatch.setattr(store_module, "METADATA_CHUNK", 7)
    uuids = _metadata_zip(tmp_path / "m.zip", 60)
    store = CfdiStore(rt.db, processes=processes)
    store.ingest_xml_package(ZIPS / "cfdi.zip")  # one CFDI with detail first
    report = store.ingest_metadata_package(tmp_path / "m.zip")
    assert report.documents == 60
    assert [f for f, _ in report.errors] == ["broken.txt"]
    rows, indexes = _state(store)
    assert {r[0] for r in rows} == set(uuids) | {"11111111-2222-3333-4444-000000000001"}
    assert indexes == {"ix_mx_cfdi_emisor_fecha", "ix_mx_cfdi_receptor_fecha", "ix_mx_cfdi_fecha"}
    first = rows[0]
    assert first[1:] == ("Emisor Ñ", first[2], "I", "cancelado", 1)
    again = store.ingest_metadata_package(tmp_path / "m.zip")  # idempotent: nothing new
    assert again.documents == 60 and _state(store) == (rows, indexes)
    assert store.errors("m.zip") == [{"source": "m.zip", "entry": "broken.txt", "reason": store.errors()[0]["reason"]}]


def test_unreadable_metadata_package_is_reported_not_raised(rt: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    report = CfdiStore(rt.db).ingest_metadata_package(bad)
    assert report.documents == 0 and report.errors[0][0] == "bad.zip"


def test_a_dead_worker_is_reported_not_waited_for() -> None:
    worker = WorkerProcess()
    try:
        worker.proc.kill()
        worker.proc.wait()
        with pytest.raises(WorkerDied):
            worker.send("parse_package_entries", str(ZIPS / "cfdi.zip"), [])
            worker.result()
    finally:
        worker.close()


def test_a_failing_task_is_reported_and_the_worker_goes_on() -> None:
    worker = WorkerProcess()
    try:
        worker.send("parse_package_entries", "/nonexistent/package.zip", [("a.xml", 0, 1, 1, 0, 8, 0)])
        with pytest.raises(WorkerDied, match="FileNotFoundError"):
            worker.result()
        worker.send("parse_package_entries", str(ZIPS / "cfdi.zip"), [])
        assert worker.result().rows == []
    finally:
        worker.close()
