"""A child process that runs webhook ingest batches, so the database work uses the second core.

The API process's group writer sends each batch of IngestRequests through a pipe and waits for the
commit; the event loop keeps its core (and the GIL) for HTTP. If the child dies, the waiting requests
fail (no acknowledgement is sent, so senders retry) and the next batch starts a new child.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from typing import Any

from pasarela.ledger.service import IngestRequest

log = logging.getLogger("pasarela.writer")


class WriterProcessError(RuntimeError):
    """The writer process could not commit the batch; nothing in it may be acknowledged."""


class WriterProcess:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=serve, args=(self.database_url, child), name="pasarela-ledger-writer", daemon=True
        )
        self._proc.start()
        child.close()
        self._conn = parent

    def stop(self) -> None:
        if self._proc is not None:
            try:
                self._conn.send(None)
                self._proc.join(5)
            except (OSError, EOFError, BrokenPipeError):
                pass
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc = None

    def run(self, requests: list[IngestRequest]) -> list[tuple[Any, str | None]]:
        """Commit the batch in the child; one (value, error) per request, in order."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self.start()
            try:
                self._conn.send([r.__dict__ for r in requests])
                status, payload = self._conn.recv()
            except (OSError, EOFError) as exc:
                self._proc = None
                raise WriterProcessError(f"el proceso escritor del ledger terminó: {exc}") from exc
        if status != "ok":
            raise WriterProcessError(str(payload))
        return list(payload)


def serve(database_url: str, conn: Any) -> None:
    """The child's loop: one transaction (one fsync) per batch received."""
    from pasarela.ledger.db import Database
    from pasarela.ledger.service import ingest_batch

    db = Database(database_url)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        requests = [IngestRequest(**fields) for fields in message]
        try:
            conn.send(("ok", _commit(db, requests, ingest_batch)))
        except Exception as exc:  # noqa: BLE001 - the commit failed: report it, keep serving
            log.error("ingest batch of %d failed: %s", len(requests), exc)
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _commit(db: Any, requests: list[IngestRequest], ingest_batch: Any) -> list[tuple[Any, str | None]]:
    with db.transaction() as session:
        try:
            with session.begin_nested():
                return [(value, None) for value in ingest_batch(session, requests)]
        except Exception:  # noqa: BLE001 - e.g. a key inserted meanwhile by another process: one by one
            results: list[tuple[Any, str | None]] = []
            for request in requests:
                try:
                    with session.begin_nested():
                        results.append((request(session), None))
                except Exception as exc:  # noqa: BLE001
                    results.append((None, f"{type(exc).__name__}: {exc}"))
            return results
