"""The one submission path every provider uses: commit `submitting` before the call, classify the
outcome, and never resend something that may have been sent (DESIGN.md, "Exactly one document").

Follow-ups (download the files, mail the customer, poll, mark paid…) are never run after the commit
in memory: a submitter's ``on_issued`` runs *inside* the transaction that records the issue and writes
them as jobs (the outbox), so a crash between the two cannot lose them. Their handlers are idempotent.
A person's "it was issued" (`documents resolve`) runs the same hook (see `record_issued`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pasarela.core.errors import InvalidInput, ProviderError
from pasarela.core.outcomes import CallResult, Outcome, State
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job
from pasarela.runtime import Runtime

log = logging.getLogger("pasarela.flow")


class RetryJob(Exception):
    """Raised by a job handler to run the job again later (backoff chosen by the worker unless given).

    ``at_least``: ``delay`` is a floor, not the wait — a provider's Retry-After after "not processed": the
    worker still backs off exponentially, so a provider down for minutes does not use up every attempt in
    seconds. Without it, ``delay`` is the wait (polling a ticket, following a SAT request)."""

    def __init__(self, message: str, delay: float | None = None, *, at_least: bool = False):
        super().__init__(message)
        self.delay = delay
        self.at_least = at_least


@dataclass
class Submitter:
    """How one provider submits a document.

    submit(runtime, doc) -> CallResult: build and send. May raise InvalidInput (→ needs_attention)
        or ProviderError subclasses (mapped through their outcome).
    lookup(runtime, doc) -> CallResult | None: ask the provider what happened to a document that
        may have been sent. None means "the provider says it never got it" (safe to send).
        Leave unset where the provider has no lookup: in_doubt then waits for a person.
    on_issued(session, doc): runs inside the transaction that records the issue: write the follow-up
        jobs here (`follow_up`) or further ledger changes (e.g. issued → paid); never call a provider.
    prepare(runtime, doc) -> request | CallResult: build the request BEFORE `submitting` is committed.
        Raise InvalidInput, or return a CallResult (e.g. skipped), to settle the document without
        sending; any other exception is a failure of our own code on this data, also settled as
        needs_attention — nothing was sent, so it can never look "in doubt". `submit` then finds the
        request in `doc.prepared`.
    """

    submit: Callable[[Runtime, Document], CallResult]
    lookup: Callable[[Runtime, Document], CallResult | None] | None = None
    on_issued: Callable[[Session, Document], None] | None = None
    prepare: Callable[[Runtime, Document], Any] | None = None


RESUBMITTABLE = {State.QUEUED, State.RECEIVED}
LOOKUP_DELAY = 5.0  # seconds before asking the provider about an in-doubt document


def run_submission(rt: Runtime, job: Job, submitter: Submitter) -> None:
    doc_id = job.document_id
    assert doc_id is not None, "submission jobs always carry a document"
    with rt.db.transaction() as session:
        # Row lock (PostgreSQL): two jobs for one document never both move it to `submitting`.
        doc = session.get(Document, doc_id, with_for_update=True)
        if doc is None:
            return
        if doc.state == State.SUBMITTING:
            # A worker died (or its lease ran out) between committing `submitting` and recording the
            # answer: the provider may have acted.
            service.transition(session, doc, State.IN_DOUBT, "trabajo interrumpido durante el envío")
        if doc.state == State.IN_DOUBT:
            in_doubt = True
        elif doc.state in RESUBMITTABLE:
            in_doubt = False
            if submitter.prepare is None:
                service.transition(session, doc, State.SUBMITTING, f"intento {job.attempts}")
        else:
            return  # settled: issued, rejected, needs_attention… nothing to do
    if in_doubt:
        _resolve_in_doubt(rt, doc_id, submitter)
        return
    prepared = None
    if submitter.prepare is not None:
        prepared = _prepare(rt, doc_id, submitter.prepare)
        if isinstance(prepared, CallResult):
            apply_result(rt, doc_id, prepared, submitter)
            return
        if not _mark_submitting(rt, doc_id, f"intento {job.attempts}"):
            return
    result = call_provider(rt, doc_id, submitter.submit, prepared)
    apply_result(rt, doc_id, result, submitter)
    _recheck_later_if_in_doubt(result, submitter)


def _prepare(rt: Runtime, doc_id: int, prepare: Callable[[Runtime, Document], Any]) -> Any:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        session.expunge(doc)
    try:
        return prepare(rt, doc)
    except InvalidInput as exc:
        return CallResult(Outcome.NEEDS_ATTENTION, reason=exc.message, details={"field": exc.field})
    except ProviderError as exc:
        return exc.to_result()
    except Exception as exc:  # noqa: BLE001 - our code failed on this data before anything was sent
        log.exception("preparing document %s failed", doc_id)
        return CallResult(Outcome.NEEDS_ATTENTION, reason=f"no se pudo preparar ({type(exc).__name__}): {exc}"[:300])


def _mark_submitting(rt: Runtime, doc_id: int, reason: str) -> bool:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id, with_for_update=True)
        if doc is None or doc.state not in RESUBMITTABLE:
            return False  # another job got there first
        service.transition(session, doc, State.SUBMITTING, reason)
        return True


def _recheck_later_if_in_doubt(result: CallResult, submitter: Submitter) -> None:
    """Where the provider can tell us what happened, the job asks it later instead of waiting for a person."""
    if result.outcome == Outcome.IN_DOUBT and submitter.lookup is not None:
        raise RetryJob(f"en duda, se consultará al proveedor: {result.reason}", result.retry_after or LOOKUP_DELAY)


def call_provider(rt: Runtime, doc_id: int, fn: Callable[[Runtime, Document], Any], prepared: Any = None) -> Any:
    """Run a submit/lookup function on a detached copy of the document, turning errors into results."""
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        session.expunge(doc)
    doc.prepared = prepared  # type: ignore[attr-defined]
    try:
        return fn(rt, doc)
    except InvalidInput as exc:
        return CallResult(Outcome.NEEDS_ATTENTION, reason=exc.message, details={"field": exc.field})
    except ProviderError as exc:
        return exc.to_result()


def apply_result(rt: Runtime, doc_id: int, result: CallResult, submitter: Submitter | None = None) -> None:
    """Record what a call meant. A RETRY puts the document back in the queue and asks for backoff."""
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.result = {**(doc.result or {}), **{k: v for k, v in result.details.items() if v is not None}}
        if result.provider_ref:
            doc.provider_ref = result.provider_ref
        if result.outcome == Outcome.RETRY:
            service.transition(session, doc, State.QUEUED, result.reason)
        else:
            service.transition(session, doc, str(result.outcome), result.reason)
        if result.outcome == Outcome.ISSUED:
            record_issued(session, doc, submitter)
    if result.outcome == Outcome.RETRY:
        raise RetryJob(result.reason, result.retry_after, at_least=True)


def record_issued(session: Session, doc: Document, submitter: Submitter | None) -> None:
    """Write what follows an issue (the outbox) in the caller's transaction — the one that records it."""
    if submitter is not None and submitter.on_issued is not None:
        submitter.on_issued(session, doc)


def follow_up(session: Session, doc: Document, kind: str, *, delay: float = 0.0, max_attempts: int = 8,
              payload: dict[str, Any] | None = None) -> None:
    """Queue a follow-up job for ``doc`` unless one of that kind is already waiting or running."""
    if service.pending_job(session, doc.id, kind) is None:
        service.enqueue(session, kind, document_id=doc.id, delay=delay, max_attempts=max_attempts, payload=payload)


def _resolve_in_doubt(rt: Runtime, doc_id: int, submitter: Submitter) -> None:
    if submitter.lookup is None:
        return  # no lookup at this provider: a person decides (`documents resolve`)
    found = call_provider(rt, doc_id, submitter.lookup)
    if isinstance(found, CallResult) and found.outcome == Outcome.RETRY:
        apply_result(rt, doc_id, CallResult(Outcome.IN_DOUBT, reason=found.reason))
        raise RetryJob(f"consulta pendiente: {found.reason}", found.retry_after)
    if found is None:
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            service.transition(session, doc, State.SUBMITTING, "el proveedor confirma que no lo recibió; reenviando")
        prepared = _prepare(rt, doc_id, submitter.prepare) if submitter.prepare else None
        if isinstance(prepared, CallResult):
            apply_result(rt, doc_id, prepared, submitter)
            return
        resent = call_provider(rt, doc_id, submitter.submit, prepared)
        apply_result(rt, doc_id, resent, submitter)
        _recheck_later_if_in_doubt(resent, submitter)
        return
    apply_result(rt, doc_id, found, submitter)
    _recheck_later_if_in_doubt(found, submitter)


def mark_failed(rt: Runtime, doc_id: int, reason: str) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is not None and doc.state not in (State.ISSUED, State.IN_DOUBT):
            # A crash while submitting is in doubt, not failed: never let it look safe to resend.
            state = State.IN_DOUBT if doc.state == State.SUBMITTING else State.FAILED
            service.transition(session, doc, state, reason)
