"""The CFDI store: compressed XML by UUID plus a SQL index, filled idempotently.

Ingest is built for throughput: package entries are parsed in worker processes (one per core),
each returning ready-to-insert tuples; the parent writes them with one ``executemany`` upsert per
batch. Upserts on the UUID make every ingest idempotent: a package ingested twice (or resumed
after a crash) adds nothing.

Where the XML lives: a store given a ``packages_dir`` keeps each SAT package ZIP there (named by its
SHA-256, linked or copied, never rewritten) and the index row says where the entry's deflate stream
lies in it, so the XML is already compressed on disk once and is never copied into the database.
Loose files, entries the ZIP does not deflate and stores without a folder keep the XML as a row of
``mx_cfdi_xml`` (the ZIP's own deflate stream when there is one, else zlib).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import marshal
import os
import queue
import shutil
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Index, Table, text

from pasarela.ledger.db import Database
from pasarela.providers.mx.cfdi.metadata import METADATA_FIELDS, grouped_values, store_values
from pasarela.providers.mx.cfdi.models import Cfdi
from pasarela.providers.mx.cfdi.packages import PackageError, entry_count, open_package
from pasarela.providers.mx.cfdi.parser import XML_FIELDS, normalize_uuid
from pasarela.providers.mx.cfdi.procs import WorkerPool, WorkerProcess
from pasarela.providers.mx.cfdi.worker import (
    LOCATION_COLUMNS,
    Batch,
    EntryRef,
    entry_refs,
    metadata_chunks,
    parse_entries,
    parse_package_entries,
    unpack_batch,
)

# CFDI per commit (each commit is durable: fsync'd), and per slice handed to a worker process.
BATCH_SIZE = 10_000
SLICE_SIZE = 1000
LOOK_AHEAD_PER_PROCESS = 4
# Metadata rows per executemany and per commit: with random UUIDs every commit rewrites most
# index pages (WAL, then checkpoint), so fewer, larger commits write far less.
METADATA_CHUNK = 20_000
METADATA_COMMIT_ROWS = 250_000
# A metadata package of at least this many rows is parsed in a worker process while this one writes.
METADATA_POOL_ROWS = 50_000
METADATA_MIN_ROW_BYTES = 150
# Metadata rows per INSERT statement on SQLite (``_statement_rows``): 200 × 14 parameters.
METADATA_STATEMENT_ROWS = 200
# Drop and rebuild the search indexes around a load of at least this many rows into a table holding
# fewer than 1/REBUILD_TABLE_RATIO of that.
REBUILD_MIN_ROWS = 50_000
REBUILD_TABLE_RATIO = 4
_END = object()
# Below this many entries in the whole ingest, starting worker processes costs more than it saves.
POOL_THRESHOLD = 3000
# SQLite page cache during a bulk load (KiB): the UUID and date indexes take random inserts.
BULK_CACHE_KIB = 64 * 1024
BULK_SORT_THREADS = min(4, max(0, (os.cpu_count() or 1) - 1))
# Page cache, and so sort runs, while the search indexes are built after a bulk load (``_sort_memory``).
INDEX_SORT_KIB = 8 * 1024

XML_COLUMNS = (*XML_FIELDS, "has_xml")
LOCATED_COLUMNS = (*XML_COLUMNS, *LOCATION_COLUMNS)
XML_KEEP = {"uuid"}
META_COLUMNS = (*METADATA_FIELDS, "total", "tipo", "has_metadata")
# Metadata never overwrites detail the XML brought; it owns status, cancellation and third parties.
META_OWNS = {"monto", "efecto", "estado", "fecha_cancelacion", "rfc_a_cuenta_terceros",
             "nombre_a_cuenta_terceros", "has_metadata"}


@dataclass
class IngestReport:
    source: str
    documents: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "documents": self.documents, "skipped": self.skipped,
                "errors": [{"file": f, "reason": r} for f, r in self.errors]}


def decompress(blob: bytes) -> bytes:
    """``D`` + raw deflate copied from the SAT's ZIP as is, or ``Z`` + zlib."""
    if blob[:1] == b"D":
        return zlib.decompress(blob[1:], -15)
    return zlib.decompress(blob[1:])


def _sqlite_driver(conn: Connection) -> Any:
    # At the driver level: through SQLAlchemy a PRAGMA would open a transaction.
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the SQLite connection has no driver connection (closed or invalidated)")
    return driver


@contextmanager
def _bulk_load(conn: Connection) -> Iterator[None]:
    """A larger SQLite page cache for this connection while it loads, then back to the default.
    Durability is untouched: every commit stays synchronous=FULL."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = _sqlite_driver(conn)
    driver.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    # Helper threads for the sorts of CREATE INDEX (index rebuilds after a large load).
    driver.execute(f"PRAGMA threads={BULK_SORT_THREADS}")
    try:
        yield
    finally:
        driver.execute("PRAGMA cache_size=-2000")
        driver.execute("PRAGMA threads=0")


@contextmanager
def _sort_memory(conn: Connection) -> Iterator[None]:
    """Inside ``_bulk_load``: SQLite's sorter (CREATE INDEX) takes its memory from the page cache
    size. Sorting in runs of ``INDEX_SORT_KIB``, merged after, is faster than in one or two runs of
    the bulk cache's size, and the helper threads sort the runs while the table is scanned."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = _sqlite_driver(conn)
    driver.execute(f"PRAGMA cache_size=-{INDEX_SORT_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _upsert_sql(columns: tuple[str, ...], values: list[str], assignments: list[str]) -> str:
    """An upsert into ``mx_cfdi`` on the UUID: ``values`` are the rows' ``(…)`` groups."""
    return (f"INSERT INTO mx_cfdi ({', '.join(columns)}) VALUES {', '.join(values)} "
            f"ON CONFLICT (uuid) DO UPDATE SET {', '.join(assignments)}")


def _xml_upsert(conn: Connection) -> str:
    return _detail_upsert(conn, XML_COLUMNS)


def _located_upsert(conn: Connection, package_id: int) -> str:
    """Index rows that end with the XML's place in package ``package_id`` (an id of ours, written
    into the statement: the worker processes never need to know it)."""
    return _detail_upsert(conn, LOCATED_COLUMNS, package_id)


def _detail_upsert(conn: Connection, columns: tuple[str, ...], package_id: int | None = None) -> str:
    """The XML's index row overwrites every column but the UUID."""
    marks = [_placeholder(conn)] * len(columns)
    if package_id is not None:
        columns, marks = (*columns, "xml_package"), [*marks, str(int(package_id))]
    assignments = [f"{c} = excluded.{c}" for c in columns if c not in XML_KEEP]
    return _upsert_sql(columns, [f"({', '.join(marks)})"], assignments)


_MONTO_AT, _EFECTO_AT = METADATA_FIELDS.index("monto"), METADATA_FIELDS.index("efecto")
_META_WIDTH = len(METADATA_FIELDS)


@functools.lru_cache(maxsize=64)
def _meta_upsert(sqlite: bool, rows: int = 1) -> str:
    """Upsert ``rows`` metadata rows (``METADATA_FIELDS`` each, as ``store_values`` gives them):
    the SAT's Monto is also the total and its EfectoComprobante the type. SQLite binds them once
    and uses them twice (numbered parameters); PostgreSQL's ``%s`` cannot repeat, so its rows
    carry them twice (``_upsert_metadata``)."""
    groups = []
    for row in range(rows if sqlite else 1):
        if sqlite:
            marks = [f"?{row * _META_WIDTH + i}" for i in range(1, _META_WIDTH + 1)]
            marks += [marks[_MONTO_AT], marks[_EFECTO_AT]]
        else:
            marks = ["%s"] * (_META_WIDTH + 2)
        groups.append(f"({', '.join(marks)}, 1)")
    assignments = []
    for column in META_COLUMNS:
        if column == "uuid":
            continue
        if column in META_OWNS:
            assignments.append(f"{column} = excluded.{column}")
        elif column == "total":
            assignments.append("total = COALESCE(mx_cfdi.total, excluded.total)")
        else:
            assignments.append(f"{column} = CASE WHEN mx_cfdi.{column} = '' THEN excluded.{column} "
                               f"ELSE mx_cfdi.{column} END")
    return _upsert_sql(META_COLUMNS, groups, assignments)


def _statement_rows(db: Database) -> int:
    """Metadata rows per INSERT statement: on SQLite many, which saves its per-statement work (a
    million ``executemany`` steps, cursors opened and closed each time), within its limit on
    parameters (999 before SQLite 3.32). PostgreSQL refuses a statement that would upsert one UUID
    twice, which a metadata file may hold: one row each."""
    if not db.sqlite:
        return 1
    with db.engine.connect() as conn:
        limit = _sqlite_driver(conn).getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(METADATA_STATEMENT_ROWS, limit // _META_WIDTH))


def _upsert_metadata(conn: Connection, groups: list[tuple[Any, ...]]) -> int:
    """Write ``groups`` (each the values of one or more rows, one after another: ``grouped_values``);
    returns the rows written."""
    if conn.dialect.name != "sqlite":
        rows = [(*g[at:at + _META_WIDTH], g[at + _MONTO_AT], g[at + _EFECTO_AT])
                for g in groups for at in range(0, len(g), _META_WIDTH)]
        conn.exec_driver_sql(_meta_upsert(False), rows)
        return len(rows)
    written = 0
    for size, run in itertools.groupby(groups, len):  # in order: of a UUID twice, the later row wins
        same = list(run)
        rows_each = size // _META_WIDTH
        conn.exec_driver_sql(_meta_upsert(True, rows_each), same)
        written += rows_each * len(same)
    return written


def _blob_upsert(conn: Connection) -> str:
    p = _placeholder(conn)
    return (f"INSERT INTO mx_cfdi_xml (uuid, size, zxml) VALUES ({p}, {p}, {p}) "
            "ON CONFLICT (uuid) DO UPDATE SET size = excluded.size, zxml = excluded.zxml")


def _error_upsert(conn: Connection) -> str:
    p = _placeholder(conn)
    return (f"INSERT INTO mx_cfdi_errors (source, entry, reason, at) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (source, entry) DO UPDATE SET reason = excluded.reason")


def _secondary_indexes() -> list[Index]:
    # A declarative class with __tablename__ is mapped to a Table (SQLAlchemy types __table__ as FromClause).
    table = cast(Table, Cfdi.__table__)
    return sorted(table.indexes, key=lambda ix: ix.name or "")


def _drop_secondary_indexes(conn: Connection) -> None:
    for index in _secondary_indexes():
        index.drop(conn, checkfirst=True)


def _create_secondary_indexes(conn: Connection) -> None:
    """The model's indexes, any missing one created (also repairs an index-less table)."""
    for index in _secondary_indexes():
        index.create(conn, checkfirst=True)


def _rebuild_pays(conn: Connection, incoming: int) -> bool:
    """Dropping and rebuilding the search indexes around a load pays when the load is large and
    the table small beside it (measured on SQLite: building costs ≈ 3 µs per row of the whole
    table, keeping them up to date during the load ≈ 4 µs per row loaded)."""
    if incoming < REBUILD_MIN_ROWS:
        return False
    limit = incoming // REBUILD_TABLE_RATIO + 1
    existing = conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM mx_cfdi LIMIT {int(limit)}) AS head").scalar() or 0
    return int(existing) < limit


def metadata_row_estimate(path: str) -> int:
    """Rows a metadata package probably holds (its text size over a short row's size): only
    decides how to load it. Unreadable packages count as small; reading reports them."""
    try:
        with open_package(path) as zf:
            size = sum(i.file_size for i in zf.infolist() if i.filename.lower().endswith(".txt"))
    except PackageError:
        return 0
    return size // METADATA_MIN_ROW_BYTES


@dataclass
class _PackageWork:
    """One package on its way through the pipeline."""

    path: str
    report: IngestReport
    total: int = 0
    done: int = 0
    sha256: str | None = None  # when the caller knows it already
    kept: tuple[str, str, int] | None = None  # (sha256, file name, size) once in the package folder
    package_id: int | None = None


class MissingPackage(LookupError):
    """The package holding a CFDI's XML is no longer in the store's package folder."""


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)  # large updates release the GIL: the writer thread goes on
    return digest.hexdigest()


def keep_package(path: str, folder: Path, sha256: str | None = None) -> tuple[str, str, int]:
    """Put a package into the store's folder under its SHA-256 (a hard link where the file system
    allows, else a copy made durable before it gets its name). ``sha256``: the digest when the
    caller already has it (the download computed it), so the file is not read once more.
    Returns (sha256, file name, size)."""
    sha = sha256 or file_sha256(path)
    name = f"{sha}.zip"
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{name}.{os.getpid()}.part")
        try:
            os.link(path, partial)
        except OSError:
            shutil.copyfile(path, partial)
            with open(partial, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(partial, target)
        _fsync_dir(folder)
    return sha, name, target.stat().st_size


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _register_package(conn: Connection, kept: tuple[str, str, int], source: str) -> int:
    sha, name, size = kept
    p = _placeholder(conn)
    conn.exec_driver_sql(
        f"INSERT INTO mx_cfdi_packages (sha256, file, size, source, at) VALUES ({p}, {p}, {p}, {p}, {p}) "
        "ON CONFLICT (sha256) DO NOTHING", (sha, name, size, source[:200], datetime.now(UTC)))
    found = conn.exec_driver_sql(f"SELECT id FROM mx_cfdi_packages WHERE sha256 = {p}", (sha,)).scalar()
    if found is None:
        raise RuntimeError(f"package {sha} was not registered in mx_cfdi_packages")
    return int(found)


class _Ready:
    """A result computed in this process, shaped like a pool future."""

    def __init__(self, value: Batch):
        self.value = value

    def result(self) -> Batch:
        return self.value


class _Pending:
    """A slice sent to a worker process. Each worker answers in order and the writer reads the
    slices in the order they were sent, so ``result()`` reads exactly this slice's answer."""

    def __init__(self, worker: WorkerProcess):
        self.worker = worker

    def result(self) -> Batch:
        return unpack_batch(self.worker.result())


def _submit(worker: WorkerProcess, path: str, refs: list[EntryRef], locate: bool) -> _Pending:
    worker.send("parse_package_slice", path, refs, locate)
    return _Pending(worker)


class CfdiStore:
    def __init__(self, db: Database, processes: int | None = None, batch_size: int = BATCH_SIZE,
                 packages_dir: Path | None = None):
        self.db = db
        self.batch_size = max(1, batch_size)
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self.packages_dir = packages_dir

    # ---- writing -----------------------------------------------------------------------------

    def write_batch(self, source: str, batch: Batch, conn: Connection | None = None,
                    package_id: int | None = None) -> None:
        """Index rows, compressed XML and errors; in ``conn``'s transaction, or one of its own.
        Located rows (``batch.located``) point into package ``package_id``."""
        if not (batch.rows or batch.errors):
            return
        if conn is None:
            with self.db.engine.begin() as own:
                self.write_batch(source, batch, own, package_id)
            return
        if batch.rows:
            if batch.located:
                assert package_id is not None, "located rows need their package"
                conn.exec_driver_sql(_located_upsert(conn, package_id), batch.rows)
            else:
                conn.exec_driver_sql(_xml_upsert(conn), batch.rows)
        if batch.blobs:
            conn.exec_driver_sql(_blob_upsert(conn), batch.blobs)
        if batch.errors:
            now = datetime.now(UTC)
            conn.exec_driver_sql(_error_upsert(conn), [(source, e[:300], r, now) for e, r in batch.errors])

    def ingest_xml_package(
        self, zip_path: Path | str, source: str | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Every CFDI of a SAT package into the store. ``on_batch(done, total)`` after each commit."""
        return self.ingest_xml_packages([(zip_path, source or Path(zip_path).name)], on_batch)[0]

    def ingest_xml_packages(
        self, packages: Iterable[tuple[Path | str, str]],
        on_batch: Callable[[int, int], None] | None = None,
        on_package: Callable[[int, IngestReport], None] | None = None,
        sha256s: Mapping[str, str] | None = None,
    ) -> list[IngestReport]:
        """Several packages through ONE pipeline: worker processes (started once for the whole
        ingest) read and parse slices and return ready rows; this process only writes them,
        committing every ``batch_size`` rows and at the end of each package. ``on_batch(done,
        total)`` runs after each commit (``done`` of the package's ``total`` entries);
        ``on_package(i, report)`` once package ``i`` is entirely committed, in order. ``sha256s``:
        packages' digests by path where already known (a store keeping packages names them so)."""
        known = sha256s or {}
        work = [_PackageWork(str(path), IngestReport(source), sha256=known.get(str(path)))
                for path, source in packages]
        entries = sum(entry_count(w.path) for w in work)
        slices = -(-entries // self._slice_size())
        if self.processes <= 1 or entries < POOL_THRESHOLD or slices < 2:
            self._pipeline(work, None, on_batch, on_package)
        else:
            # Light entry processes (procs.py): no re-import of __main__, no fork of a threaded process.
            with WorkerPool(self.processes) as pool:
                for worker in pool.workers:
                    worker.read_ahead()
                self._pipeline(work, pool, on_batch, on_package)
        return [w.report for w in work]

    def _slice_size(self) -> int:
        return max(1, min(self.batch_size, SLICE_SIZE))

    def _plan(self, work: list[_PackageWork]) -> Iterator[tuple[int, list[EntryRef] | None]]:
        """(package index, entries) for every slice, then (index, None) ending the package. A
        package's directory is read only when the plan reaches it (the workers are busy)."""
        step = self._slice_size()
        for index, item in enumerate(work):
            refs = entry_refs(item.path)
            item.total = len(refs)
            if self.packages_dir is not None and refs:
                item.kept = keep_package(item.path, self.packages_dir, item.sha256)
            for start in range(0, len(refs), step):
                yield index, refs[start:start + step]
            yield index, None

    def _pipeline(self, work: list[_PackageWork], pool: WorkerPool | None,
                  on_batch: Callable[[int, int], None] | None,
                  on_package: Callable[[int, IngestReport], None] | None) -> None:
        """This thread writes and commits, in order. With a pool, a feeder thread keeps the workers
        supplied meanwhile: a commit (fsync and WAL checkpoint) never leaves them idle."""
        if pool is None:
            locate = self.packages_dir is not None
            steps: Iterator[tuple[int, int, Any]] = (
                (index, 0, None) if refs is None
                else (index, len(refs), _Ready(parse_package_entries(work[index].path, refs, locate)))
                for index, refs in self._plan(work))
            self._write_all(work, steps, on_batch, on_package)
            return
        queued: queue.Queue[Any] = queue.Queue(maxsize=LOOK_AHEAD_PER_PROCESS * self.processes)
        stop = threading.Event()

        def offer(item: Any) -> bool:
            """Queue ``item`` unless the writer has stopped (then nobody would take it)."""
            while not stop.is_set():
                try:
                    queued.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def feed() -> None:
            workers = itertools.cycle(pool.workers)
            try:
                for index, refs in self._plan(work):
                    step = (index, 0, None) if refs is None else (
                        index, len(refs), _submit(next(workers), work[index].path, refs,
                                                  self.packages_dir is not None))
                    if not offer(step):
                        return
            except BaseException as exc:  # e.g. an unreadable package: raised in the writing thread
                offer(exc)
            offer(_END)

        def steps_in_order() -> Iterator[tuple[int, int, Any]]:
            while (step := queued.get()) is not _END:
                if isinstance(step, BaseException):
                    raise step
                yield step

        feeder = threading.Thread(target=feed, name="cfdi-ingest-feeder", daemon=True)
        feeder.start()
        finished = False
        try:
            self._write_all(work, steps_in_order(), on_batch, on_package)
            finished = True
        finally:
            stop.set()
            if not finished:  # the feeder may be blocked writing to a worker nobody reads any more
                pool.kill()
            feeder.join()

    def _write_all(self, work: list[_PackageWork], steps: Iterator[tuple[int, int, Any]],
                   on_batch: Callable[[int, int], None] | None,
                   on_package: Callable[[int, IngestReport], None] | None) -> None:
        """Write each parsed slice; commit every ``batch_size`` rows and at each package's end
        (``future`` None), then tell the caller."""
        with self.db.engine.connect() as conn, _bulk_load(conn):
            uncommitted = 0
            transaction = None
            for index, size, future in steps:
                item = work[index]
                if future is None:
                    if transaction is not None:
                        transaction.commit()
                        transaction, uncommitted = None, 0
                        if on_batch:
                            on_batch(item.done, item.total)
                    if on_package:
                        on_package(index, item.report)
                    continue
                batch = future.result()
                if transaction is None:
                    transaction = conn.begin()
                if item.kept is not None and item.package_id is None:
                    item.package_id = _register_package(conn, item.kept, item.report.source)
                self.write_batch(item.report.source, batch, conn, item.package_id)
                item.report.documents += len(batch.rows)
                item.report.errors.extend(batch.errors)
                item.report.skipped += batch.skipped
                item.done += size
                uncommitted += size
                if uncommitted >= self.batch_size:
                    transaction.commit()
                    transaction, uncommitted = None, 0
                    if on_batch:
                        on_batch(item.done, item.total)

    def ingest_xml_files(self, entries: Iterable[tuple[str, bytes]], source: str) -> IngestReport:
        batch = parse_entries(entries)
        self.write_batch(source, batch)
        return IngestReport(source, documents=len(batch.rows), errors=batch.errors)

    def ingest_metadata_rows(self, rows: list[tuple[str, ...]], source: str,
                             errors: list[tuple[str, str]] | None = None) -> IngestReport:
        """Metadata rows (``METADATA_FIELDS`` order) merged on UUID with whatever the XML brought."""
        per_statement = _statement_rows(self.db)
        chunks = (grouped_values([store_values(row) for row in rows[at:at + METADATA_CHUNK]], per_statement)
                  for at in range(0, len(rows), METADATA_CHUNK))
        return self._write_metadata(chunks, len(rows), IngestReport(source, errors=list(errors or [])))

    def ingest_metadata_package(self, zip_path: Path | str, source: str | None = None) -> IngestReport:
        """A metadata package: parsed in a worker process while this one writes (when it is large
        and there is more than one core), rows in chunks as they come."""
        path = str(zip_path)
        report = IngestReport(source or Path(zip_path).name)
        expected = metadata_row_estimate(path)
        per_statement = _statement_rows(self.db)
        if self.processes <= 1 or expected < METADATA_POOL_ROWS:
            return self._write_metadata_stream(
                metadata_chunks(path, METADATA_CHUNK, statement_rows=per_statement), expected, report)
        with WorkerPool(1) as pool:
            worker = pool.workers[0]
            worker.send("metadata_chunks", path, METADATA_CHUNK, True, per_statement)
            try:
                return self._write_metadata_stream(worker.stream(), expected, report)
            except BaseException:
                pool.kill()  # it may be blocked writing rows nobody reads any more
                raise

    def _write_metadata_stream(self, messages: Iterator[tuple[str, Any]], expected: int,
                               report: IngestReport) -> IngestReport:
        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            for kind, value in messages:
                if kind == "rows":
                    yield marshal.loads(value) if isinstance(value, bytes) else value
                else:  # the summary: (files read, (file, reason) errors)
                    report.errors.extend(value[1])

        return self._write_metadata(chunks(), expected, report)

    def _write_metadata(self, chunks: Iterable[list[tuple[Any, ...]]], expected: int,
                        report: IngestReport) -> IngestReport:
        """Upsert chunks of metadata values. A load large beside the table it goes into is ONE
        transaction that drops the secondary indexes, loads and builds them again (a sort beats
        a random b-tree insert per row and index); otherwise a commit every
        ``METADATA_COMMIT_ROWS`` rows. Either way every commit is durable (synchronous=FULL)."""
        with self.db.engine.connect() as conn, _bulk_load(conn):
            transaction = conn.begin()
            rebuild = _rebuild_pays(conn, expected)
            if rebuild:
                _drop_secondary_indexes(conn)
            uncommitted = 0
            for chunk in chunks:
                written = _upsert_metadata(conn, chunk)
                report.documents += written
                uncommitted += written
                if not rebuild and uncommitted >= METADATA_COMMIT_ROWS:
                    transaction.commit()
                    transaction, uncommitted = conn.begin(), 0
            if rebuild:
                with _sort_memory(conn):
                    _create_secondary_indexes(conn)
            transaction.commit()
        if report.errors:
            self.write_batch(report.source, Batch(errors=report.errors))
        return report

    # ---- reading -----------------------------------------------------------------------------

    def xml(self, uuid: str) -> bytes | None:
        """The original XML, or None when the store has no XML for this UUID. Raises
        ``MissingPackage`` when the package file holding it has been removed from the folder."""
        with self.db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT x.zxml, c.xml_offset, c.xml_csize, c.xml_size, c.xml_crc, p.file "
                "FROM mx_cfdi c LEFT JOIN mx_cfdi_xml x ON x.uuid = c.uuid "
                "LEFT JOIN mx_cfdi_packages p ON p.id = c.xml_package WHERE c.uuid = :u"),
                {"u": normalize_uuid(uuid)}).first()
        if row is None:
            return None
        blob, offset, csize, size, crc, file = row
        if blob is not None:
            return decompress(blob)
        if offset is None or file is None:
            return None
        return self._read_located(file, int(offset), int(csize), int(size), int(crc))

    def _read_located(self, file: str, offset: int, csize: int, size: int, crc: int) -> bytes:
        path = self.packages_dir / file if self.packages_dir is not None else None
        if path is None or not path.exists():
            raise MissingPackage(f"el paquete {file} que guarda este XML ya no está en "
                                 f"{self.packages_dir or 'la carpeta de paquetes'}")
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(csize)
        data = zlib.decompress(raw, -15)
        if len(data) != size or zlib.crc32(data) != crc:
            raise MissingPackage(f"el paquete {file} no coincide con el índice (tamaño o CRC)")
        return data

    def count(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM mx_cfdi")).scalar() or 0)

    def errors(self, source: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT source, entry, reason FROM mx_cfdi_errors"
        params: dict[str, Any] = {}
        if source:
            query += " WHERE source = :s"
            params["s"] = source
        with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(query + " ORDER BY id"), params)]
