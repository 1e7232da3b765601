"""Round 2 of the bulk ingest: metadata decoded a piece at a time, parsed in a worker process
(light entry module) while this one writes, search indexes rebuilt around a large load; the
worker protocol reports a dead worker instead of hanging."""

from __future__ import annotations

import gc
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from conftest import VECTORS
from pasarela.providers.mx.cfdi import store as store_module
from pasarela.providers.mx.cfdi import worker as worker_module
from pasarela.providers.mx.cfdi.metadata import (
    METADATA_FIELDS,
    METADATA_HEADER,
    PIECE_BYTES,
    READ_BYTES,
    grouped_values,
    in_uuid_order,
    iter_lines,
    split_records,
)
from pasarela.providers.mx.cfdi.packages import MetadataPackage, iter_metadata_package
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


class _Trickle:
    """A file object handing out at most ``size`` bytes per read, as a pipe or a ZIP entry may."""

    def __init__(self, data: bytes, size: int):
        self.data, self.size, self.at = data, size, 0

    def read(self, n: int = -1) -> bytes:
        take = self.size if n < 0 else min(n, self.size)
        self.at += take
        return self.data[self.at - take:self.at]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="ab~|Ñ\r\n", max_size=12), max_size=12), st.sampled_from(["\r\n", "\n", ""]),
       st.integers(min_value=1, max_value=16), st.integers(min_value=1, max_value=7), st.booleans())
def test_lines_read_from_a_stream_equal_the_whole_file(records, eol, piece, read, bom) -> None:  # type: ignore[no-untyped-def]
    """A ZIP entry is read a block at a time: CRLF found late (or across two reads) still makes it
    a CRLF file, and the records are those of the whole file."""
    text = "\r\n".join(records[:1]) + eol.join(records[1:]) + eol
    whole = split_records(text) if text else []
    data = ("\ufeff" if bom else "") + text
    assert list(iter_lines(_Trickle(data.encode(), read), piece_bytes=piece)) == whole


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60).map(lambda b: b.translate(bytes(b"ab~\r\n\xff\xc3"[i % 7] for i in range(256)))),
       st.integers(min_value=1, max_value=16), st.integers(min_value=1, max_value=7))
def test_stream_and_bytes_cut_the_same_pieces(data, piece, read) -> None:  # type: ignore[no-untyped-def]
    """Even where a piece falls back to Latin-1 (not UTF-8), reading from a stream gives what the
    bytes in memory give: the pieces are cut at the same places."""
    assert list(iter_lines(_Trickle(data, read), piece_bytes=piece)) == list(iter_lines(data, piece_bytes=piece))


def test_metadata_rows_come_before_the_file_is_read_whole(tmp_path: Path) -> None:
    _metadata_zip(tmp_path / "m.zip", 60_000)  # ≈ 9 MB of text: more than two pieces
    inflated = [0]

    class CountingZip(zipfile.ZipFile):
        def open(self, name, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            entry = super().open(name, *args, **kwargs)
            read = entry.read

            def counted(n: int = -1) -> bytes:
                data = read(n)
                inflated[0] += len(data)
                return data

            entry.read = counted  # type: ignore[method-assign]
            return entry

    with CountingZip(tmp_path / "m.zip") as zf:
        size = zf.getinfo("meta.txt").file_size
        chunks = iter_metadata_package(zf, MetadataPackage(), chunk_rows=100)
        assert len(next(chunks)) == 100
        assert inflated[0] <= PIECE_BYTES + 2 * READ_BYTES < size
        assert sum(len(c) for c in chunks) == 60_000 - 100


@given(st.lists(st.lists(st.integers(), min_size=len(METADATA_FIELDS), max_size=len(METADATA_FIELDS)), max_size=30),
       st.integers(min_value=1, max_value=8))
def test_grouped_values_hold_the_rows_in_order(rows, per_group) -> None:  # type: ignore[no-untyped-def]
    width = len(METADATA_FIELDS)
    groups = grouped_values([tuple(row) for row in rows], per_group)
    assert all(len(g) == width * per_group for g in groups[:-1])
    assert all(0 < len(g) <= width * per_group for g in groups)
    assert [list(g[at:at + width]) for g in groups for at in range(0, len(g), width)] == rows


@given(st.lists(st.sampled_from("ABCD"), max_size=40))
def test_rows_in_uuid_order_keep_the_file_order_of_a_uuid(uuids) -> None:  # type: ignore[no-untyped-def]
    width = len(METADATA_FIELDS)
    rows = [(uuid, at, *range(width - 2)) for at, uuid in enumerate(uuids)]
    assert in_uuid_order(list(rows)) == sorted(rows, key=lambda r: r[0])


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
    monkeypatch.setattr(store_module, "METADATA_STATEMENT_ROWS", 3)  # 7 rows: statements of 3, 3 and 1
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


@pytest.mark.parametrize("processes", [1, 2])
def test_a_uuid_twice_in_one_file_merges_in_file_order(rt: Runtime, tmp_path: Path, monkeypatch,
                                                       processes: int) -> None:  # type: ignore[no-untyped-def]
    """Rows reordered by UUID and several per INSERT (SQLite) upsert as one row at a time in file
    order would: the later row of a UUID owns status and Monto, the total stays the first one's."""
    monkeypatch.setattr(store_module, "METADATA_POOL_ROWS", 10)
    monkeypatch.setattr(store_module, "METADATA_CHUNK", 5)
    monkeypatch.setattr(store_module, "METADATA_STATEMENT_ROWS", 4)
    line = "{u}~AAA010101AAA~E~BBB010101BBB~R~CCC010101CCC~2024-01-01 10:00:00~2024-01-01 10:00:01~{m}~I~{s}~"
    uuids = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(20)]
    lines = [line.format(u=u, m=f"{i}.00", s=1) for i, u in enumerate(uuids)]
    lines[3:3] = [line.format(u=uuids[1], m="97.00", s=0)]  # same chunk, same statement as the first
    lines[8:8] = [line.format(u=uuids[3], m="99.00", s=0)]  # the next chunk
    lines.append(line.format(u=uuids[12], m="98.00", s=0))  # the last chunk
    with zipfile.ZipFile(tmp_path / "m.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.txt", "\r\n".join([METADATA_HEADER, *lines]) + "\r\n")
    store = CfdiStore(rt.db, processes=processes)
    assert store.ingest_metadata_package(tmp_path / "m.zip").documents == 23
    with store.db.engine.connect() as conn:
        got = {r[0]: (float(r[1]), float(r[2]), r[3]) for r in conn.execute(text(
            "SELECT uuid, monto, total, estado FROM mx_cfdi"))}
    assert len(got) == 20
    for twice, monto in ((1, 97.0), (3, 99.0), (12, 98.0)):
        assert got[uuids[twice].upper()] == (monto, float(twice), "cancelado")
    assert got[uuids[4].upper()] == (4.0, 4.0, "vigente")


def test_rows_per_statement_stay_within_sqlites_parameter_limit(rt: Runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(store_module, "METADATA_STATEMENT_ROWS", 100_000)
    if not rt.db.sqlite:
        assert store_module._statement_rows(rt.db) == 1
        return
    with rt.db.engine.connect() as conn:
        limit = conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    assert store_module._statement_rows(rt.db) == limit // len(METADATA_FIELDS)


@pytest.mark.parametrize("packed", [False, True])
def test_the_collector_pauses_only_in_a_workers_metadata_task(tmp_path: Path, packed: bool) -> None:
    """Packed (a worker process's task), the cyclic collector is off while the rows are parsed and
    on again after; in this process (not packed) it is never touched."""
    _metadata_zip(tmp_path / "m.zip", 30)
    seen = [gc.isenabled() for _ in worker_module.metadata_chunks(str(tmp_path / "m.zip"), 10, packed, 3)]
    assert seen[:-1] == [not packed] * 3  # three chunks of rows, then the summary
    assert gc.isenabled()


def test_unreadable_metadata_package_is_reported_not_raised(rt: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    report = CfdiStore(rt.db).ingest_metadata_package(bad)
    assert report.documents == 0 and report.errors[0][0] == "bad.zip"


@pytest.mark.parametrize("processes", [1, 2])
def test_a_damaged_metadata_entry_is_reported_by_package(rt: Runtime, tmp_path: Path, monkeypatch,
                                                        processes: int) -> None:  # type: ignore[no-untyped-def]
    """Streamed, a bad CRC shows at the entry's end: the package's error, never an exception."""
    monkeypatch.setattr(store_module, "METADATA_POOL_ROWS", 10)
    _metadata_zip(tmp_path / "m.zip", 200)
    data = bytearray((tmp_path / "m.zip").read_bytes())
    central = data.find(b"PK\x01\x02")  # meta.txt's central directory record: its CRC-32 at +16
    data[central + 16:central + 20] = bytes(4)
    (tmp_path / "m.zip").write_bytes(bytes(data))
    report = CfdiStore(rt.db, processes=processes).ingest_metadata_package(tmp_path / "m.zip")
    assert [name for name, _ in report.errors] == ["m.zip"] and "CRC" in report.errors[0][1]


def test_a_failing_writer_ends_the_metadata_worker_at_once(rt: Runtime, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def fail(*_args: Any) -> int:
        raise RuntimeError("disco lleno")

    monkeypatch.setattr(store_module, "_upsert_metadata", fail)
    _metadata_zip(tmp_path / "m.zip", 60_000)  # more than the pipe holds: the worker blocks on it
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="disco lleno"):
        CfdiStore(rt.db, processes=2).ingest_metadata_package(tmp_path / "m.zip")
    assert time.monotonic() - started < 4  # not the 5 s a worker that does not end is given


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
