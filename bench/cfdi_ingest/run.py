"""CFDI ingest benchmark (issue 5, acceptance 5).

Generates realistic CFDI 4.0/3.3 XML (TimbreFiscalDigital, 1-8 concepts, Pagos 2.0) in SAT-style
package ZIPs, then measures in the same run:
  (a) a bare lxml parse of the same files (``etree.fromstring`` on the already-inflated bytes, one
      process; timed just before and just after our ingest, the faster of the two is the baseline),
  (b) satcfdi's parser (``CFDI.from_string``) on a sample, also just before and just after our
      ingest, the faster of the two is the baseline (this shared machine's speed drifts),
  (c) our ingest into the CFDI store: the whole set of packages through one pipeline (worker
      processes read, inflate and parse; this process writes), documents per second, CPU cores
      used, peak RSS of the ingest process plus its workers (sampled together from /proc);
and the metadata path: N metadata rows (CRLF, ``~``) parsed and upserted, timed together.

    .venv/bin/python bench/cfdi_ingest/run.py            # the issue's size: 200,000 CFDI, 1,000,000 rows
    .venv/bin/python bench/cfdi_ingest/run.py --quick    # smoke run: 20,000 CFDI, 200,000 rows
    PASARELA_CFDI_C_READER=0 .venv/bin/python bench/cfdi_ingest/run.py   # without the C reader

Top-level imports stay light on purpose: worker processes are started with ``spawn`` and import
this module again.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

COMPANY = ("EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV")
TARGET_VS_LXML = 0.5
TARGET_VS_SATCFDI = 10.0
TARGET_RSS_MB = 300.0
TARGET_META_ROWS_PER_S = 1_000_000 / 10


def write_packages(count: int, folder: Path, per_package: int) -> tuple[list[Path], int, list[Any]]:
    """Month after month of generated CFDI, streamed into package ZIPs (memory stays flat)."""
    from pasarela.providers.mx.mysuite import generator

    paths: list[Path] = []
    total_bytes, written, keep = 0, 0, []
    day = datetime(2021, 1, 1)
    zf = None
    while written < count:
        month_end = day + timedelta(days=30, hours=23)
        for doc in generator.documents(COMPANY, "EMISOR", "CFDIS", day, month_end, 3000):
            if written >= count:
                break
            if written % per_package == 0:
                if zf:
                    zf.close()
                paths.append(folder / f"BENCH_{len(paths) + 1:02d}.zip")
                zf = zipfile.ZipFile(paths[-1], "w", zipfile.ZIP_DEFLATED)
            data = generator.cfdi_xml(doc)
            total_bytes += len(data)
            zf.writestr(f"{doc.uuid}.xml", data)
            written += 1
            if len(keep) < 10_000:
                keep.append(doc)
        day += timedelta(days=31)
    if zf:
        zf.close()
    return paths, total_bytes, keep


def lxml_rate(paths: list[Path]) -> float:
    """(a) Parse only: the bytes are read and inflated outside the timed loop."""
    from lxml import etree

    parsed, seconds = 0, 0.0
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            blobs = [zf.read(n) for n in zf.namelist()]
        started = time.perf_counter()
        for data in blobs:
            etree.fromstring(data)
        seconds += time.perf_counter() - started
        parsed += len(blobs)
    return parsed / seconds


def satcfdi_rate(path: Path, sample: int) -> float:
    from satcfdi.cfdi import CFDI

    with zipfile.ZipFile(path) as zf:
        blobs = [zf.read(n) for n in zf.namelist()[:sample]]
    CFDI.from_string(blobs[0])  # warm-up outside the timing (lazy imports and caches)
    started = time.perf_counter()
    for data in blobs:
        CFDI.from_string(data)
    return len(blobs) / (time.perf_counter() - started)


def ingest_child(url: str, paths: list[str], processes: int, store_dir: str, out: Any) -> None:
    """(c) Our ingest in its own process, so the RSS sampled is ours alone. The store keeps the
    packages in ``store_dir`` as ``pasarela mx download`` does (hard links here: same disk)."""
    from pasarela.ledger.db import Database
    from pasarela.ledger.migrate import upgrade
    from pasarela.providers.mx.cfdi.store import CfdiStore

    db = Database(url)
    upgrade(db)
    store = CfdiStore(db, processes=processes, packages_dir=Path(store_dir))
    before = os.times()
    started = time.perf_counter()
    reports = store.ingest_xml_packages([(p, Path(p).name) for p in paths])
    seconds = time.perf_counter() - started
    after = os.times()
    main_cpu = sum(getattr(after, f) - getattr(before, f) for f in ("user", "system"))
    workers_cpu = sum(getattr(after, f) - getattr(before, f) for f in ("children_user", "children_system"))
    out.put((sum(r.documents for r in reports), seconds, (main_cpu, workers_cpu),
             sum(len(r.errors) for r in reports)))


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as fh:
                children = [int(c) for c in fh.read().split()]
        except OSError:
            children = []
        found.extend(children)
        frontier.extend(children)
    return found


class RssSampler(threading.Thread):
    """Peak of (process RSS + its descendants' RSS), sampled every 20 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.peak_parent_kib, self.done = pid, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            parent = _rss_kib(self.pid)
            total = parent + sum(_rss_kib(c) for c in _descendants(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self.peak_parent_kib = max(self.peak_parent_kib, parent)
            self.done.wait(0.02)


def metadata_text(docs: list[Any], rows: int, sequential: bool = False) -> bytes:
    """``rows`` distinct metadata rows in the SAT's format (CRLF, ``~``), one file. UUIDs random
    like the SAT's (seeded: the same file every run); ``sequential`` ones in index order flatter
    the upsert."""
    import random
    import uuid

    from pasarela.providers.mx.mysuite import generator

    lines = [generator.METADATA_HEADER]
    tails = [generator.metadata_line(d)[36:] for d in docs]
    if sequential:
        uuids = [f"{i:08X}-0000-4000-8000-{i:012X}" for i in range(rows)]
    else:
        rng = random.Random(5)
        uuids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() for _ in range(rows)]
    lines += [f"{u}{tails[i % len(tails)]}" for i, u in enumerate(uuids)]
    return ("\r\n".join(lines) + "\r\n").encode()


def c_reader_state() -> str:
    from pasarela.providers.mx.cfdi import parser

    if parser.SCANNER is not None:
        return "activo"
    if parser._cfdiscan is None:
        return "no compilado (sin gcc): todo por lxml"
    return "apagado (PASARELA_CFDI_C_READER=0): todo por lxml"


def verdict(ok: bool) -> str:
    return "cumple" if ok else "NO cumple"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--cfdi", type=int, help="CFDI files (default 200000, quick 20000)")
    parser.add_argument("--metadata-rows", type=int, help="metadata rows (default 1000000, quick 200000)")
    parser.add_argument("--package-size", type=int, default=10_000, help="CFDI per package ZIP")
    parser.add_argument("--satcfdi-sample", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and database")
    parser.add_argument("--sequential-uuids", action="store_true",
                        help="metadata UUIDs in index order (kinder than the SAT's random ones)")
    args = parser.parse_args()
    n_cfdi = args.cfdi or (20_000 if args.quick else 200_000)
    n_meta = args.metadata_rows or (200_000 if args.quick else 1_000_000)

    work = Path(tempfile.mkdtemp(prefix="cfdi-bench-"))
    print(f"generando {n_cfdi:,} CFDI en paquetes de {args.package_size:,} en {work} …", flush=True)
    paths, total_bytes, docs = write_packages(n_cfdi, work, args.package_size)
    print(f"  {len(paths)} paquetes, XML medio {total_bytes / n_cfdi:,.0f} bytes", flush=True)

    print("(a) lxml, antes …", flush=True)
    lxml_before = lxml_rate(paths)
    print("(b) satcfdi, antes …", flush=True)
    satcfdi_before = satcfdi_rate(paths[0], args.satcfdi_sample)
    print("(c) ingesta …", flush=True)
    url = args.database_url or f"sqlite:///{work / 'ledger.db'}"
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=ingest_child, args=(url, [str(p) for p in paths], args.processes,
                                                            str(work / "store"), queue))
    child.start()
    assert child.pid is not None
    sampler = RssSampler(child.pid)
    sampler.start()
    ingested, seconds, (main_cpu, workers_cpu), errors = queue.get()
    cpu = main_cpu + workers_cpu
    sampler.done.set()
    child.join()
    ours = ingested / seconds
    print("(a) lxml, después …", flush=True)
    lxml_after = lxml_rate(paths)
    baseline = max(lxml_before, lxml_after)
    print("(b) satcfdi, después …", flush=True)
    satcfdi_after = satcfdi_rate(paths[0], args.satcfdi_sample)
    satcfdi = max(satcfdi_before, satcfdi_after)

    from pasarela.ledger.db import Database
    from pasarela.providers.mx.cfdi.store import CfdiStore

    db = Database(url)
    store = CfdiStore(db, processes=args.processes, packages_dir=work / "store")
    again_started = time.perf_counter()
    again = store.ingest_xml_package(paths[0], source=paths[0].name)
    again_seconds = time.perf_counter() - again_started
    count_before_meta = store.count()

    print("metadatos …", flush=True)
    meta_zip = work / "METADATA_01.zip"
    with zipfile.ZipFile(meta_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("METADATA_01.txt", metadata_text(docs, n_meta, args.sequential_uuids))
    started = time.perf_counter()
    meta_report = store.ingest_metadata_package(meta_zip, "bench-metadata")
    meta_seconds = time.perf_counter() - started
    assert meta_report.documents == n_meta and not meta_report.errors, meta_report.as_dict()
    meta_rate = n_meta / meta_seconds

    rss_mb = sampler.peak_kib / 1024
    cores = cpu / seconds
    rows = [
        ("(a) lxml.etree.fromstring, 1 proceso", f"{baseline:,.0f} /s", "línea base",
         f"antes {lxml_before:,.0f}, después {lxml_after:,.0f}"),
        ("(b) satcfdi CFDI.from_string (muestra)", f"{satcfdi:,.0f} /s", "línea base",
         f"{args.satcfdi_sample:,} CFDI; antes {satcfdi_before:,.0f}, después {satcfdi_after:,.0f}"),
        (f"(c) ingesta pasarela ({args.processes} proc., {db.engine.dialect.name})", f"{ours:,.0f} /s", "",
         f"{ingested:,} CFDI en {seconds:.1f} s, {errors} errores"),
        ("    (c) ÷ (a)", f"{ours / baseline:.2f} ×", f"≥ {TARGET_VS_LXML} ×",
         verdict(ours / baseline >= TARGET_VS_LXML)),
        ("    (c) ÷ (b)", f"{ours / satcfdi:.1f} ×", f"≥ {TARGET_VS_SATCFDI:.0f} ×",
         verdict(ours / satcfdi >= TARGET_VS_SATCFDI)),
        ("    RSS máximo, ingesta + procesos hijos", f"{rss_mb:,.0f} MB", f"≤ {TARGET_RSS_MB:.0f} MB",
         f"{verdict(rss_mb <= TARGET_RSS_MB)} (proceso principal {sampler.peak_parent_kib / 1024:,.0f} MB)"),
        ("    núcleos usados (CPU / tiempo real)", f"{cores:.2f}", f"{os.cpu_count()} núcleos",
         f"CPU {cpu:.1f} s en {seconds:.1f} s"),
        ("    CPU por CFDI: principal + procesos de análisis",
         f"{main_cpu / ingested * 1e6:.0f} + {workers_cpu / ingested * 1e6:.0f} µs", "", ""),
        ("re-ingesta de un paquete (idempotente)", f"{again_seconds:.2f} s", "",
         f"{again.documents:,} CFDI, almacén sigue en {count_before_meta:,}"),
        (f"metadatos: {n_meta:,} filas, UUID {'en orden' if args.sequential_uuids else 'aleatorios'}",
         f"{meta_seconds:.2f} s",
         f"≤ {n_meta / TARGET_META_ROWS_PER_S:.1f} s", f"{verdict(meta_rate >= TARGET_META_ROWS_PER_S)} "
         f"({meta_rate:,.0f} filas/s; meta 1M en ≤ 10 s)"),
    ]
    print()
    print(f"{'medida':46} {'valor':>14}  {'meta':>12}  nota")
    for label, value, target, note in rows:
        print(f"{label:46} {value:>14}  {target:>12}  {note}")
    print(f"{'CFDI en el almacén (XML + solo metadatos)':46} {store.count():>14,}")
    print(f"lector C de campos CFDI (_cfdiscan): {c_reader_state()}")
    assert count_before_meta == n_cfdi, (count_before_meta, n_cfdi)
    sys.stdout.flush()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
