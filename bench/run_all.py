"""`make bench`: every benchmark in bench/, one after the other, each printing its figures and baseline.

Pass --quick for the smaller sizes (a smoke run); the full sizes are the ones recorded in
docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv[1:]
RUNS = [
    ("ingest", ["-n", "2000", "--repeat", "1"] if QUICK else []),
    ("ubl_sign", []),
    ("cfdi_ingest", ["--quick"] if QUICK else []),
]


def main() -> int:
    failed = []
    for name, args in RUNS:
        print(f"\n=== bench/{name} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name / "run.py"), *args]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
