"""Group commit for the hot ingest path.

Webhook handlers hand their writes to one writer thread, which runs whatever is queued in a single
transaction (each write in its own savepoint) and commits once: one fsync for many events, and no
lock contention between request threads. A caller's future resolves only after the commit, so an
acknowledged event is always on disk.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from pasarela.ledger.db import Database
from pasarela.ledger.service import IngestRequest, ingest_batch
from pasarela.ledger.writer_process import WriterProcess, WriterProcessError

log = logging.getLogger("pasarela.writer")
Write = Callable[[Session], Any]
_STOP = object()


class GroupWriter:
    def __init__(self, db: Database, max_batch: int = 256, process: WriterProcess | None = None):
        self.db = db
        self.max_batch = max_batch
        # With a writer process, webhook ingests are committed there (the second core); other writes here.
        self.process = process
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        if self._thread is not None:  # the common case, without taking the lock
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ledger-group-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)
        if self.process is not None:
            self.process.stop()

    async def submit(self, write: Write) -> Any:
        """Run `write(session)` in the next group transaction; returns its result after the commit."""
        self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((write, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
        outcome: dict[int, tuple[Any, BaseException | None]] = {}
        ingests = [(i, item[0]) for i, item in enumerate(batch) if isinstance(item[0], IngestRequest)]
        if ingests and self.process is not None:
            outcome.update(self._ingest_in_process(ingests))
        try:
            if len(outcome) < len(batch):
                with self.db.transaction() as session:
                    if ingests and self.process is None:
                        outcome.update(self._ingest(session, ingests))
                    for i, (write, _, _) in enumerate(batch):
                        if i not in outcome:
                            outcome[i] = self._one(session, write)
        except Exception as exc:  # noqa: BLE001 - the commit itself failed: nobody is acknowledged
            log.error("group commit of %d writes failed: %s", len(batch), exc)
            outcome.update(
                {
                    i: (None, exc)
                    for i in range(len(batch))
                    if i not in outcome or not isinstance(batch[i][0], IngestRequest) or self.process is None
                }
            )
        self.batches += 1
        self.writes += len(batch)
        # One wake-up per event loop for the whole batch, not one per request.
        by_loop: dict[Any, list[tuple[Any, Any, BaseException | None]]] = {}
        for i, (_, future, loop) in enumerate(batch):
            by_loop.setdefault(loop, []).append((future, *outcome[i]))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    def _ingest_in_process(self, items: list[tuple[int, IngestRequest]]) -> dict[int, tuple[Any, BaseException | None]]:
        assert self.process is not None
        try:
            answers = self.process.run([request for _, request in items])
        except WriterProcessError as exc:
            log.error("%s", exc)
            return {i: (None, exc) for i, _ in items}
        return {
            i: (value, WriterProcessError(error) if error else None)
            for (i, _), (value, error) in zip(items, answers, strict=True)
        }

    def _ingest(
        self, session: Session, items: list[tuple[int, IngestRequest]]
    ) -> dict[int, tuple[Any, BaseException | None]]:
        """All webhook ingests of the batch in one statement per table; one by one if that fails."""
        try:
            with session.begin_nested():
                values = ingest_batch(session, [request for _, request in items])
            return {i: (value, None) for (i, _), value in zip(items, values, strict=True)}
        except Exception:  # noqa: BLE001 - e.g. a key inserted meanwhile by another process
            return {i: self._one(session, request) for i, request in items}

    @staticmethod
    def _one(session: Session, write: Write) -> tuple[Any, BaseException | None]:
        try:
            with session.begin_nested():
                return write(session), None
        except Exception as exc:  # noqa: BLE001 - one bad write must not sink the batch
            return None, exc


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        _settle(future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
