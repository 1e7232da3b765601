"""``[mx.mysuite]`` configuration with working simulator defaults for every missing key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_FIEL = Path(__file__).parent / "fiel"
TEST_FIEL_PASSWORD = "12345678a"  # SAT's published test FIEL (fiel/README.md)
TEST_RFC = "EKU9003173C9"

DEFAULTS: dict[str, Any] = {
    "mode": "simulator",
    # MYSuite account: the Requestor/User GUID and user name MYSuite hands out on contracting.
    "requestor": "0c320b03-d4f1-47bc-a5f3-2ee8b1b1b5d1",
    "user": "0c320b03-d4f1-47bc-a5f3-2ee8b1b1b5d1",
    "username": "",  # default: MX.<rfc>.<user>
    "rfc": TEST_RFC,
    "fiel_cer_path": "",  # default: the SAT test FIEL in the package
    "fiel_key_path": "",
    "fiel_password": "",  # default (test FIEL only): 12345678a
    "timeout": 90.0,  # seconds; the SAT side is slow (mexico.md §3.4: ≥ 60 s)
    "poll_initial_seconds": 60.0,
    "poll_max_seconds": 3600.0,
    "split": "month",  # CFDI periods per request: month | year | none
    "ingest_processes": 0,  # 0: one per core
    "ingest_batch_size": 10_000,  # CFDI per committed (fsync'd) batch
    # Simulator timing and volume.
    "sim_accept_seconds": 2.0,  # Aceptada (1) until then
    "sim_finish_seconds": 5.0,  # En proceso (2) until then, then Terminada (3)
    "sim_docs_per_month": 20,
    "sim_package_size": 200,
    "sim_poll_seconds": 1.0,  # poll_initial_seconds used in simulator mode
    # Fault injection for crash tests only: "download" or "ingest:<batches>" exits the process there.
    "fault_crash_at": "",
}


@dataclass
class MySuiteConfig:
    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        value = self.raw.get(key)
        default = DEFAULTS[key]
        if value is None or value == "":
            return default
        return type(default)(value) if isinstance(default, (int, float)) and not isinstance(default, bool) else value

    @property
    def mode(self) -> str:
        return str(self["mode"])

    @property
    def rfc(self) -> str:
        return str(self["rfc"]).strip().upper()

    @property
    def username(self) -> str:
        return str(self["username"] or f"MX.{self.rfc}.{self['user']}")

    def fiel_paths(self) -> tuple[Path, Path]:
        cer = self["fiel_cer_path"] or PACKAGE_FIEL / f"{TEST_RFC}.cer"
        key = self["fiel_key_path"] or PACKAGE_FIEL / f"{TEST_RFC}.key"
        return Path(cer), Path(key)

    @property
    def fiel_password(self) -> str:
        if self["fiel_password"]:
            return str(self["fiel_password"])
        return TEST_FIEL_PASSWORD if not self.raw.get("fiel_key_path") else ""

    @property
    def poll_initial(self) -> float:
        return float(self["sim_poll_seconds"] if self.mode == "simulator" else self["poll_initial_seconds"])


def load(settings: Any) -> MySuiteConfig:
    return MySuiteConfig(dict(settings.section("mx.mysuite") or {}))
