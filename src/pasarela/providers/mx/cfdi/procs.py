"""Worker processes for the CFDI ingest, started through a light entry module.

``multiprocessing``'s ``spawn`` makes every worker import the parent's ``__main__`` again: under the
``pasarela`` console script that is the whole CLI (typer, FastAPI, SQLAlchemy…), ≈ 1–2.5 s and
≈ 100 MB of RSS per worker. ``fork`` would avoid that but is unsafe here: the ingest runs inside a
threaded process (the server's job threads, the feeder thread), and a fork copies locks other threads
hold (the import lock among them) in their locked state. ``forkserver`` still re-imports ``__main__``
in each child unless the fork server preloads it.

So each worker is ``python -m pasarela.providers.mx.cfdi.procs``: a fresh interpreter that imports
the parser and lxml only (≈ 0.1 s), and speaks pickled messages over a pair of private pipes. A task
is the name of a function in ``TASKS``; a generator's items are streamed back one message each.
The worker ends on EOF (its parent closed the pipe or died).

``read_ahead()`` has a thread of the parent read a worker's answers as soon as they are written:
a pipe holds 64 KiB and an answer (a slice of parsed CFDI) several MB, so without it a worker that
finished a slice waits, blocked on the pipe, until the parent's writer gets to it — and the writer
spends much of its time in commits (fsync, WAL checkpoint). The caller bounds how many requests
are outstanding, so the answers read ahead are bounded too.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

_ITEM, _END, _FAIL = 0, 1, 2


class WorkerDied(RuntimeError):
    """A worker process ended or failed in a way its task did not report."""


PIPE_BYTES = 1 << 20


def _widen(pipe: IO[bytes]) -> None:
    """A 1 MiB pipe instead of 64 KiB (Linux; elsewhere the default stays). A request (a slice's
    entry list, ≈ 70 kB) then never blocks the thread sending it while the worker is busy — that
    thread feeds every worker in turn — and an answer crosses in a few large reads."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    try:
        fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: keep the default


class WorkerProcess:
    """One worker; requests are answered in the order they were sent."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[4])  # the folder holding ``pasarela``
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pasarela.providers.mx.cfdi.procs"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._to: IO[bytes] = self.proc.stdin
        self._from: IO[bytes] = self.proc.stdout
        for pipe in (self._to, self._from):
            _widen(pipe)
        self._answers: queue.SimpleQueue[Any] | None = None
        self._reader: threading.Thread | None = None

    def read_ahead(self) -> None:
        """Read answers in a thread of this process as they arrive (see the module's notes)."""
        if self._reader is None:
            self._answers = queue.SimpleQueue()
            self._reader = threading.Thread(target=self._drain, name="cfdi-worker-reader", daemon=True)
            self._reader.start()

    def _drain(self) -> None:
        assert self._answers is not None
        while True:
            try:
                message = self._read()
            except WorkerDied as exc:
                self._answers.put(exc)
                return
            self._answers.put(message)

    def send(self, task: str, *args: Any) -> None:
        try:
            pickle.dump((task, args), self._to, protocol=pickle.HIGHEST_PROTOCOL)
            self._to.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(f"proceso de análisis terminado (código {self.proc.poll()})") from exc

    def _message(self) -> tuple[int, Any]:
        if self._answers is None:
            return self._read()
        message = self._answers.get()
        if isinstance(message, WorkerDied):
            self._answers.put(message)  # every later read fails the same way
            raise message
        return message

    def _read(self) -> tuple[int, Any]:
        try:
            return pickle.load(self._from)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise WorkerDied(f"proceso de análisis terminado (código {self.proc.poll()})") from exc

    def result(self) -> Any:
        """The answer to the oldest request not yet read (a plain function's return value)."""
        kind, value = self._message()
        if kind == _FAIL:
            raise WorkerDied(value)
        self._message()  # its _END
        return value

    def stream(self) -> Iterator[Any]:
        """The items of the oldest request (a generator task), as they arrive."""
        while True:
            kind, value = self._message()
            if kind == _END:
                return
            if kind == _FAIL:
                raise WorkerDied(value)
            yield value

    def close(self) -> None:
        # Input first: the worker ends on EOF, which ends a reader thread blocked on its output.
        try:
            self._to.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join()
        try:
            self._from.close()
        except OSError:
            pass


class WorkerPool:
    """``size`` workers; ``with`` closes them all (a worker ends when its input pipe closes)."""

    def __init__(self, size: int):
        self.workers: list[WorkerProcess] = []
        try:
            for _ in range(max(1, size)):
                self.workers.append(WorkerProcess())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()

    def kill(self) -> None:
        """End every worker now (unread answers are lost): unblocks a thread writing to one."""
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.proc.kill()


def _serve(requests: BinaryIO, answers: BinaryIO) -> None:
    from pasarela.providers.mx.cfdi.worker import TASKS

    def answer(kind: int, value: Any) -> None:
        pickle.dump((kind, value), answers, protocol=pickle.HIGHEST_PROTOCOL)

    while True:
        try:
            task, args = pickle.load(requests)
        except EOFError:
            return
        try:
            value = TASKS[task](*args)
            if isinstance(value, Iterator):
                for item in value:
                    answer(_ITEM, item)
                    answers.flush()
            else:
                answer(_ITEM, value)
            answer(_END, None)
        except Exception as exc:  # reported to the parent, which raises it; the worker goes on
            answer(_FAIL, f"{type(exc).__name__}: {exc}")
        answers.flush()


def main() -> None:
    # The protocol owns the original stdin/stdout; anything printed goes to stderr instead.
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    try:
        _serve(requests, answers)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
