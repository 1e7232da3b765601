"""The bulk ingest pipeline: several packages through one set of worker processes give exactly
what the in-process path gives; entries are read from the ZIP without zipfile (raw deflate kept)
and a damaged entry is an error of its own, never a stop."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import VECTORS
from pasarela.providers.mx.cfdi import store as store_module
from pasarela.providers.mx.cfdi.packages import entry_count, open_package, xml_entry_names
from pasarela.providers.mx.cfdi.store import CfdiStore
from pasarela.providers.mx.cfdi.worker import entry_refs
from pasarela.providers.mx.mysuite import generator
from pasarela.runtime import Runtime

COMPANY = ("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV")
GOOD = (VECTORS / "mx" / "cfdi" / "cfdi40" / "cfdv40-ejemplo-signed-tfd.xml").read_bytes()


def _packages(folder: Path) -> tuple[list[Path], set[str]]:
    docs = generator.documents(COMPANY, "EMISOR", "CFDIS", datetime(2024, 1, 1), datetime(2024, 2, 28), 40)
    paths, uuids = [], set()
    for number, part in enumerate((docs[: len(docs) // 2], docs[len(docs) // 2:], [])):
        path = folder / f"p{number}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for doc in part:
                zf.writestr(f"{doc.uuid}.xml", generator.cfdi_xml(doc))
                uuids.add(doc.uuid.upper())
            if number == 0:
                zf.writestr("stored-good.xml", GOOD, compress_type=zipfile.ZIP_STORED)
                zf.writestr("__MACOSX/._junk.xml", b"junk")
                zf.writestr("notes.txt", b"not a CFDI")
        paths.append(path)
    return paths, uuids


def _table(store: CfdiStore) -> list[tuple]:
    with store.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM mx_cfdi ORDER BY uuid")).all()
        blobs = conn.execute(text("SELECT uuid, size FROM mx_cfdi_xml ORDER BY uuid")).all()
    return [tuple(r) for r in rows] + [tuple(b) for b in blobs]


def test_directory_reader_agrees_with_zipfile(tmp_path: Path) -> None:
    paths, _ = _packages(tmp_path)
    for path in [*paths, *sorted((VECTORS / "mx").rglob("*.zip"))]:
        with open_package(path) as zf:
            names = xml_entry_names(zf)
            assert entry_count(str(path)) == len(zf.infolist())
        assert [ref[0] for ref in entry_refs(str(path))] == names


@pytest.mark.parametrize("keep", [False, True], ids=["xml-in-db", "packages-kept"])
@pytest.mark.parametrize("processes", [1, 2])
def test_pool_and_in_process_ingest_agree_and_are_idempotent(rt: Runtime, tmp_path: Path, monkeypatch,
                                                             processes: int, keep: bool) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(store_module, "POOL_THRESHOLD", 1)  # the pool even for a small test set
    paths, uuids = _packages(tmp_path)
    store = CfdiStore(rt.db, processes=processes, batch_size=7,  # many slices, many commits
                      packages_dir=tmp_path / "kept" if keep else None)
    commits: list[tuple[int, int]] = []
    finished: list[int] = []
    reports = store.ingest_xml_packages([(p, p.name) for p in paths],
                                        on_batch=lambda done, total: commits.append((done, total)),
                                        on_package=lambda index, report: finished.append(index))
    assert finished == [0, 1, 2]  # in order, the empty package too
    assert [r.documents for r in reports] == [len(uuids) // 2 + 1, len(uuids) - len(uuids) // 2, 0]
    assert all(not r.errors for r in reports)
    assert commits and all(done <= total for done, total in commits)
    with rt.db.engine.connect() as conn:
        stored = {r[0] for r in conn.execute(text("SELECT uuid FROM mx_cfdi"))}
    assert stored == uuids | {"499E9A70-36AC-448A-BBD9-F3F52102E4BE"}
    docs = generator.documents(COMPANY, "EMISOR", "CFDIS", datetime(2024, 1, 1), datetime(2024, 2, 28), 40)
    first = min(docs, key=lambda d: d.uuid.upper())
    assert store.xml(first.uuid) == generator.cfdi_xml(first)  # the ZIP's deflate stream, kept as is
    assert store.xml("499E9A70-36AC-448A-BBD9-F3F52102E4BE") == GOOD  # a stored (not deflated) entry
    before = _table(store)
    store.ingest_xml_packages([(p, p.name) for p in paths])
    assert _table(store) == before


def test_kept_packages_hold_the_xml_once_and_a_missing_one_is_reported(rt: Runtime, tmp_path: Path) -> None:
    paths, uuids = _packages(tmp_path)
    kept = tmp_path / "kept"
    store = CfdiStore(rt.db, processes=1, packages_dir=kept)
    store.ingest_xml_packages([(p, p.name) for p in paths])
    store.ingest_xml_packages([(paths[0], "again")])  # the same package again: nothing new
    files = sorted(kept.glob("*.zip"))
    with rt.db.engine.connect() as conn:
        packages = conn.execute(text("SELECT sha256, file, size FROM mx_cfdi_packages ORDER BY id")).all()
        blobs = [r[0] for r in conn.execute(text("SELECT uuid FROM mx_cfdi_xml"))]
        located = conn.execute(text("SELECT COUNT(*) FROM mx_cfdi WHERE xml_offset IS NOT NULL")).scalar()
    assert [f.name for f in files] == sorted(p.file for p in packages)
    assert len(packages) == 2  # the empty package holds no XML: not kept
    assert all(store_module.file_sha256(str(f)) == f.stem for f in files)
    assert blobs == ["499E9A70-36AC-448A-BBD9-F3F52102E4BE"]  # only the entry the ZIP stores undeflated
    assert located == len(uuids)
    docs = generator.documents(COMPANY, "EMISOR", "CFDIS", datetime(2024, 1, 1), datetime(2024, 2, 28), 40)
    assert all(store.xml(d.uuid) == generator.cfdi_xml(d) for d in docs)
    for path in paths:  # the downloads may go: the store has its own copies
        path.unlink()
    assert store.xml(docs[0].uuid) == generator.cfdi_xml(docs[0])
    for file in files:
        file.unlink()
    with pytest.raises(store_module.MissingPackage, match="ya no está"):
        store.xml(docs[0].uuid)
    assert store.xml("499E9A70-36AC-448A-BBD9-F3F52102E4BE") == GOOD


def test_pool_path_gives_the_same_rows_as_one_process(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pasarela.ledger.db import Database
    from pasarela.ledger.migrate import upgrade

    monkeypatch.setattr(store_module, "POOL_THRESHOLD", 1)
    paths, _ = _packages(tmp_path)
    tables = []
    for processes in (1, 2):
        db = Database(f"sqlite:///{tmp_path / f'p{processes}.db'}")
        upgrade(db)
        store = CfdiStore(db, processes=processes, batch_size=5)
        store.ingest_xml_packages([(p, p.name) for p in paths])
        tables.append(_table(store))
        db.dispose()
    assert tables[0] == tables[1]


def test_damaged_entry_is_reported_and_the_rest_ingested(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("good.xml", GOOD)
        zf.writestr("bad.xml", GOOD.replace(b"499E9A70", b"00000000"))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bad.xml")
    start = info.header_offset + 30 + len(b"bad.xml")
    data[start + 40] ^= 0xFF  # flip bits inside bad.xml's deflate stream
    path.write_bytes(bytes(data))
    report = CfdiStore(rt.db, processes=1).ingest_xml_package(path)
    assert report.documents == 1
    [(entry, reason)] = report.errors
    assert entry == "bad.xml" and "ilegible" in reason


@pytest.mark.parametrize("declared,reason", [
    (lambda size: size + 1, "no coinciden"), (lambda size: size - 1, "más largos"),
    (lambda size: 2**31 - 1, "excede el máximo"),
], ids=["longer", "shorter", "huge"])
def test_an_entry_whose_declared_size_lies_is_reported(rt: Runtime, tmp_path: Path,
                                                       declared: Callable[[int], int], reason: str) -> None:
    """The inflated size must be the one the package declares (and a sane one): a deflate bomb or a
    lying header is an error for that entry, never an allocation of what it claims."""
    path = tmp_path / "lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("good.xml", GOOD)
        zf.writestr("bad.xml", GOOD.replace(b"499E9A70", b"00000000"))
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # bad.xml's central directory header, the last one
    size = int.from_bytes(data[central + 24:central + 28], "little")
    data[central + 24:central + 28] = declared(size).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    report = CfdiStore(rt.db, processes=1).ingest_xml_package(path)
    assert report.documents == 1
    [(entry, message)] = report.errors
    assert entry == "bad.xml" and "ilegible" in message and reason in message
