"""SUNAT return codes: the message table (CodeErrors.xml, 1,711 codes) and what each range means
(reference §4). Uncertain facts are kept here and marked."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

from pasarela.core.xml import parse_xml

CODES_FILE = Path(__file__).with_name("CodeErrors.xml")


class CodeClass(StrEnum):
    ACCEPTED = "accepted"  # 0
    OBSERVED = "observed"  # ≥ 4000: accepted with observations
    REJECTED = "rejected"  # 2000–3999: number burned
    EXCEPTION = "exception"  # 0100–1999: not registered, fix and resend with the same number


# Codes that mean "already registered": adopt the existing CDR via getStatusCdr (Odoo's recovery).
ALREADY_REGISTERED = {1033, 4000}
# "El sistema no puede responder…": the service did not process the request, retry later.
SERVICE_UNAVAILABLE = {100, 109, 130, 131, 132, 133, 134, 135, 136, 137, 138, 200, 250}
BAD_CREDENTIALS = {101, 102, 111, 154}
TICKET_UNKNOWN = 127  # also a known glitch when polling too early: retry a few times [S]
# getStatus (ticket) codes [P]: 0 done with CDR, 98 in process, 99 done with errors (CDR).
TICKET_IN_PROCESS = "98"
# getStatusCdr statusCode values [U]: only 0004 ("CDR exists") is attested for an OSE (Odoo);
# 0011 ("no existe") follows SUNAT's billConsultService table.
STATUS_CDR_FOUND = {"0001", "0002", "0003", "0004"}
STATUS_CDR_NOT_FOUND = {"0011", "0012", "0127"}


def classify(code: int) -> CodeClass:
    if code == 0:
        return CodeClass.ACCEPTED
    if code >= 4000:
        return CodeClass.OBSERVED
    if code >= 2000:
        return CodeClass.REJECTED
    return CodeClass.EXCEPTION


@cache
def _table() -> dict[int, str]:
    root = parse_xml(CODES_FILE.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    return {int(e.get("code")): (e.text or "").strip() for e in root.iter("error") if (e.get("code") or "").isdigit()}


def message(code: int) -> str:
    return _table().get(code, f"código SUNAT {code:04d} no documentado")
