"""UBL build + sign + zip, documents per second on one core, beside the raw RSA-2048 signing rate of
the same key (cryptography) measured in the same run. Target: ≥ 40 % of the raw RSA rate for a
realistic factura (5 lines); other sizes are shown for information.

The two rates are measured in alternating short rounds (raw, UBL, raw, UBL…) so that both see the same
load on a shared machine; each figure is its total count over its total time.

    .venv/bin/python bench/ubl_sign/run.py [--seconds 5] [--lines 5 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from datetime import time as dtime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from pasarela.providers.pe.ubl import builder
from pasarela.providers.pe.ubl.cdr import zip_one
from pasarela.providers.pe.ubl.model import DocumentIn
from pasarela.providers.pe.ubl.signing import Credential, generate_test_credential, sign_canonical

TARGET = 0.40
TARGET_LINES = 5
ROUND_SECONDS = 0.25


class Meter:
    """Counts calls of `fn` over several rounds; `rate` is calls per second over all rounds."""

    def __init__(self, fn: Callable[[int], object]) -> None:
        self.fn, self.done, self.elapsed = fn, 0, 0.0

    def round(self, seconds: float) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(10):
                self.fn(self.done)
                self.done += 1
        self.elapsed += time.perf_counter() - start

    @property
    def rate(self) -> float:
        return self.done / self.elapsed


def factura(lines: int) -> DocumentIn:
    return DocumentIn.model_validate(
        {
            "type": "01",
            "series": "F001",
            "customer": {"doc_type": "6", "doc_number": "20512333797", "name": "CLIENTE S.A.C."},
            "lines": [
                {"description": f"Producto {i}", "quantity": "2", "unit_value": "50.25", "code": f"P{i}"}
                for i in range(lines)
            ],
        }
    )


def measure(cred: Credential, issuer: builder.Issuer, lines: int, seconds: float) -> None:
    doc = factura(lines)
    message = b"x" * 1024  # about the size of the SignedInfo we sign

    def raw_rsa(i: int) -> None:
        cred.key.sign(message + i.to_bytes(4, "big"), padding.PKCS1v15(), hashes.SHA1())

    def ubl(i: int) -> bytes:
        built = builder.build_document(doc, i + 1, issuer, date(2024, 5, 2), dtime(9, 0))
        xml, _ = sign_canonical(built.xml, built.namespaces, cred)
        return zip_one(built.file_name, xml)

    built = builder.build_document(doc, 1, issuer, date(2024, 5, 2), dtime(9, 0))
    xml, _ = sign_canonical(built.xml, built.namespaces, cred)
    raw, docs = Meter(raw_rsa), Meter(ubl)
    raw_rsa(0)
    for _ in range(max(1, round(seconds / ROUND_SECONDS))):
        raw.round(ROUND_SECONDS)
        docs.round(ROUND_SECONDS)
    ratio = docs.rate / raw.rate
    verdict = ("OK" if ratio >= TARGET else "BELOW TARGET") if lines == TARGET_LINES else "for information"
    print(
        f"factura with {lines} lines ({len(xml) / 1024:.1f} KB signed XML, {len(zip_one(built.file_name, xml))} B zip)"
    )
    print(
        f"  raw RSA-2048 PKCS#1 v1.5 SHA-1 signatures (cryptography): {raw.rate:8.1f} /s     "
        f"({raw.done} in {raw.elapsed:.1f} s)"
    )
    print(
        f"  UBL 2.1 build + sign + zip:                                {docs.rate:8.1f} docs/s "
        f"({docs.done} in {docs.elapsed:.1f} s)"
    )
    print(f"  ratio: {ratio:.1%} of the raw RSA rate (target ≥ {TARGET:.0%} at {TARGET_LINES} lines) -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per rate and size")
    parser.add_argument("--lines", type=int, nargs="+", default=[5, 20], help="invoice lines per document")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    cred = generate_test_credential(Path(tempfile.mkdtemp()) / "bench.pem", "20000000001", "BENCH S.A.C.")
    issuer = builder.Issuer(ruc="20000000001", name="BENCH S.A.C.", address="AV. LIMA 1")
    for lines in args.lines:
        measure(cred, issuer, lines, args.seconds)


if __name__ == "__main__":
    main()
