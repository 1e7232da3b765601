"""The webhook ingest path: batches with duplicates, on SQLite (sqlite3 fast path) and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from pasarela.ledger import service
from pasarela.ledger.db import RawJSON
from pasarela.ledger.models import Document, Event, Job, Transition
from pasarela.ledger.writer import GroupWriter
from pasarela.ledger.writer_process import WriterProcess
from pasarela.runtime import Runtime


def request(n: int, body: str = '{"order": {"id": 1}}') -> service.IngestRequest:
    return service.IngestRequest(
        idempotency_key=f"test:{n}",
        country="CL",
        provider="facto",
        kind="tax_document",
        data=RawJSON(body[:-1] + ', "store": "demo"}') if n % 2 else {"order": {"id": n}, "store": "demo"},
        source_ref=f"demo:{n}",
        job_kind="facto.issue",
        event={
            "source": "jumpseller",
            "kind": "order_paid",
            "source_ref": f"demo:{n}",
            "headers": {"a": "b"},
            "body": None,
            "body_size": 10,
        },
    )


def counts(rt: Runtime) -> tuple[int, int, int, int]:
    with rt.db.transaction() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore[return-value]
            for t in (Document, Job, Transition, Event)
        )


def test_batch_with_duplicates_inside_and_across_batches(rt: Runtime):
    with rt.db.transaction() as session:
        first = service.ingest_batch(session, [request(1), request(2), request(1), request(3)])
    assert [created for _, created, _ in first] == [True, True, False, True]
    assert first[0][0] == first[2][0]
    with rt.db.transaction() as session:
        second = service.ingest_batch(session, [request(2), request(4)])
    assert [created for _, created, _ in second] == [False, True] and second[0][0] == first[1][0]
    assert counts(rt) == (4, 4, 8, 6)
    with rt.db.transaction() as session:
        doc = session.get(Document, first[0][0])
        assert doc is not None
        assert doc.data == {"order": {"id": 1}, "store": "demo"}  # RawJSON stored as received
        assert doc.state == "queued" and doc.created_at.tzinfo is not None
        assert [t.to_state for t in doc.transitions] == ["received", "queued"]
        statuses = sorted(e.status for e in session.scalars(select(Event)))
        assert statuses == ["accepted"] * 4 + ["duplicate"] * 2


def test_group_writer_thread_and_process_modes_acknowledge_after_commit(rt: Runtime):
    async def deliver(writer: GroupWriter, numbers: list[int]) -> list[tuple[int, bool, str]]:
        return list(await asyncio.gather(*(writer.submit(request(n)) for n in numbers)))

    in_thread = GroupWriter(rt.db)
    answers = asyncio.run(deliver(in_thread, [10, 11, 10, 12]))
    in_thread.stop()
    assert [created for _, created, _ in answers] == [True, True, False, True]
    in_process = GroupWriter(rt.db, process=WriterProcess(rt.settings.database_url))
    answers = asyncio.run(deliver(in_process, [12, 13, 14, 13]))
    in_process.stop()
    assert [created for _, created, _ in answers] == [False, True, True, False]
    assert counts(rt)[0] == 5
