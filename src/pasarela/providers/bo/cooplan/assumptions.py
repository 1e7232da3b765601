"""Every fact about the Cooplan API that seed 003 does not state, in ONE place.

Seed 003 (v1.1.1.1) is the only contract. Where it is silent or contradicts itself (reference
`bolivia.md` §1.4 and §6, tags [U] / [NF]) we chose the values below. Each is an assumption to
confirm with PagoFácil (atencion.cliente@pagofacil.com.bo) before going live; changing one here
changes the client, the mapping and the simulator together.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

# --- Token service ([NF]: the seed's §2.1 is listed in the index but its body is missing) -------------
# Path, modelled on the other services' lowercase concatenated verbs under /api/.
TOKEN_PATH = "/api/token"
# Request fields: the three credentials the seed names (§1), sent as a JSON body.
TOKEN_FIELDS = ("CodSeguridad", "Login", "Pwd")
# The token comes back in `values`, as PagoFácil's legacy "servicios…" hosts do (a string). We also
# accept an object carrying it under one of these keys, and a lifetime under the others.
TOKEN_VALUE_KEYS = ("token", "Token", "accessToken", "access_token")
TOKEN_LIFETIME_KEYS = ("expiresInMinutes", "expira", "expiresIn")

# --- Authentication header ([U]: spelt `autorizacion` in §2.2/§2.5, `authorization` in §2.3) --------
# We send both on every call, so either spelling the server reads works.
AUTH_HEADERS = ("Authorization", "autorizacion")
# How a refused or expired token shows ([NF]): HTTP 401/403. The client renews once and retries once.
AUTH_REFUSED_HTTP_STATUSES = frozenset({401, 403})

# --- Request encoding ([U]: inputs are written "Nombre = valor"): JSON bodies with the seed's names. ---
BODY_ENCODING = "json"

# --- Realizar Pago ---------------------------------------------------------------------------------
# `IdAsociado` ("Id Cliente Empresa") is taken from the debt's `ID` field (the member's id at the
# cooperative: in the seed, debts of contract 345 carry ID 316) [U].
ID_ASOCIADO_FROM_DEBT_FIELD = "ID"
# Partial payments are not described [U]: we send exactly the debt's `montoTotal`, and the simulator
# refuses any other amount.
PARTIAL_PAYMENTS_ALLOWED = False

# --- Dates ---------------------------------------------------------------------------------------
# `FechaPagoEmpresa` is "dd/MM/yyyy HH:mm:ss", taken as Bolivian local time (UTC-4, no DST) [U].
BOLIVIA_TZ = timezone(timedelta(hours=-4), "BOT")
FECHA_PAGO_FORMAT = "%d/%m/%Y %H:%M:%S"

# --- Reporte Cobranzas ([NF]: the seed's example `values` is only a success string) ---------------
# When `values` is a list we read one collection per row with these field names; when it is a
# string (the seed's example) the report carries no rows and cannot resolve a doubtful payment.
REPORT_ROW_FIELDS = {
    "id_cobranza": "IdCobranza",
    "id_factura": "IdFactura",
    "contrato": "Contrato",
    "periodo": "Periodo",
    "monto": "Monto",
    "fecha": "FechaPagoEmpresa",
    "estado": "Estado",
}
REPORT_STATE_PAID = "PAGADO"
REPORT_STATE_REVERSED = "REVERTIDO"


# --- Error envelopes ([NF]) -------------------------------------------------------------------------
# Errors are the same envelope with error != 0 or status != 1, usually on HTTP 200. `messageMostrar`
# 1 means `message` is meant for the cashier ([U]).
def envelope_ok(body: dict[str, Any]) -> bool:
    return _as_int(body.get("error")) == 0 and _as_int(body.get("status")) == 1


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
