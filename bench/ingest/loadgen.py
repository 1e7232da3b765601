"""A small keep-alive HTTP/1.1 load generator (asyncio streams): the same client for both endpoints.

Prints one JSON line: requests, seconds, rps, p50/p99 latency (ms), and the order ids acknowledged with 200.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from pasarela.providers.cl.jumpseller.sender import build_order  # noqa: E402


def prepared_requests(path: str, host: str, token: str, first_id: int, count: int) -> list[tuple[int, bytes]]:
    out = []
    template = build_order(0, seed=1)
    for order_id in range(first_id, first_id + count):
        template["order"]["id"] = order_id
        body = json.dumps(template).encode()
        signature = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Jumpseller-Event: order_paid\r\nJumpseller-Hmac-Sha256: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append((order_id, head + body))
    return out


async def worker(
    host: str, port: int, queue: asyncio.Queue, latencies: list[float], acked: list[int], failures: list[str]
) -> None:
    reader = writer = None
    while True:
        try:
            order_id, raw = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(raw)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            status = int(status_line.split()[1])
            latencies.append(time.perf_counter() - started)
            if status == 200:
                acked.append(order_id)
            else:
                failures.append(str(status))
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
            failures.append(type(exc).__name__)
            writer = None
    if writer is not None:
        writer.close()


async def main_async(args: argparse.Namespace) -> dict:
    requests = prepared_requests(args.path, f"127.0.0.1:{args.port}", args.token, args.first_id, args.n)
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    acked: list[int] = []
    failures: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(worker("127.0.0.1", args.port, queue, latencies, acked, failures) for _ in range(args.concurrency))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "ok": len(acked),
        "failures": len(failures),
        "seconds": round(elapsed, 3),
        "rps": round(len(acked) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "acked": acked if args.report_acked else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--token", default="x")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--report-acked", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
