"""MYSuite "Descarga Masiva SAT" contract: every name and field in ONE place, tagged by confidence.

[P]  published (seed 002, MYSuite KB articles quoted in shared/reference/mexico.md §2).
[NF] not public: the seed says the vendor hands out the specs on contracting. These names and
     response shapes are OUR assumption, used by both client and simulator; adjust them here (and
     only here) once the private specs are at hand.
"""

from __future__ import annotations

# ---- transport [P] ---------------------------------------------------------------------------
WS_NS = "http://www.fact.com.mx/schema/ws"
SOAP_ACTION = "http://www.fact.com.mx/schema/ws/RequestTransaction"
ASMX_PATH = "/mx.com.fact.wsfront/FactWSFront.asmx"
COUNTRY = "MX"

# ---- transaction names -----------------------------------------------------------------------
TX_REGISTER = "REGISTRAR_SOLICITUD_DM_SAT"  # [P] KB "registro-de-solicitud-de-descarga-masiva"
TX_LIST = "OBTENER_LISTA_SOLICITUDES_DM_SAT"  # [P] KB
TX_GET = "OBTENER_SOLICITUD_DM_SAT"  # [NF] name assumed from the published naming pattern
TX_LINK = "OBTENER_LINK_DESCARGA_DM_SAT"  # [NF] name assumed from the published naming pattern

# ---- REGISTRAR: Data1 = base64(<Dictionary name="Params"><Entry k v/>…) [P] ------------------
REGISTER_DICTIONARY = "Params"
SERVICIOS = ("CFDIS", "RETENCIONES", "AMBOS")  # [P]
TIPOS_SOLICITUD = ("Metadata", "CFDI", "AMBOS")  # [P]
TIPOS_TAX_ID = ("EMISOR", "RECEPTOR", "AMBOS")  # [P]
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # [P] 'yyyy-MM-dd HH:mm:ss'
# REGISTRAR answer, one element per request created [NF]:
#   ResponseData1 = base64(<Solicitudes><Solicitud Id Servicio TipoSolicitud TipoTaxID FechaInicial
#                   FechaFinal CodEstatus Mensaje/>…</Solicitudes>)
# CodEstatus carries the SAT's code (5000 accepted, 5002 lifetime exhausted, 5005 duplicate, 301…).

# ---- OBTENER_SOLICITUD: Data1 = Dictionary "Params" {IdSolicitud} [NF] ------------------------
#   ResponseData1 = base64(<Solicitud Id … EstadoSolicitud CodigoEstadoSolicitud NumeroCFDIs Mensaje
#                   FechaRegistro><Paquetes><Paquete Id/>…</Paquetes></Solicitud>)
GET_KEY_ID = "IdSolicitud"

# ---- OBTENER_LINK_DESCARGA: Data1 = Dictionary "Params" {IdSolicitud, IdPaquete} [NF] ---------
#   ResponseData1 = base64(<Link IdPaquete Url Expira/>)
LINK_KEY_PACKAGE = "IdPaquete"

# ---- OBTENER_LISTA: Data1 = <Dictionary name="Pars"> [P] ------------------------------------
LIST_DICTIONARY = "Pars"
LIST_SORTABLE = ("Servicio", "TipoSolicitud", "FechaInicial", "FechaFinal", "EstadoSolicitud", "FechaRegistro")  # [P]
LIST_DEFAULT_ORDER = "FechaRegistro DESC"  # [P]
# Filters = base64(<Filters><Filter Name Oper Value1 Value2/>…</Filters>) [P]; TipoTaxID as a
# filter name and the operator set below are [NF].
LIST_FILTER_OPERATORS = ("=", "<>", ">", "<", ">=", "<=", "BETWEEN", "LIKE")
# JSON answer [NF] field names: {"Page","PageSize","TotalLines","TotalPages","Lines":[{Id, Servicio,
# TipoSolicitud, TipoTaxID, FechaInicial, FechaFinal, EstadoSolicitud, CodigoEstadoSolicitud,
# NumeroCFDIs, FechaRegistro}]}  (the published part is only "page size, total lines, total pages").

# ---- the SAT's codes, passed through by MYSuite [P: mexico.md §3.3] ----------------------------
SAT_ACCEPTED = "5000"
SAT_LIFETIME_EXHAUSTED = "5002"
SAT_TOO_LARGE = "5003"
SAT_NO_DATA = "5004"
SAT_DUPLICATE = "5005"
SAT_MESSAGES = {
    "300": "Usuario no válido",
    "301": "XML mal formado o datos de la solicitud no válidos",
    "305": "Certificado inválido",
    "5000": "Solicitud Aceptada",
    "5002": "Se han agotado las solicitudes de por vida",
    "5003": "Tope máximo de elementos de la consulta",
    "5004": "No se encontró la información",
    "5005": "Solicitud duplicada",
}
# EstadoSolicitud [P]
ESTADOS = {"1": "Aceptada", "2": "En proceso", "3": "Terminada", "4": "Error", "5": "Rechazada", "6": "Vencida"}
ESTADO_ACCEPTED, ESTADO_IN_PROGRESS, ESTADO_FINISHED = "1", "2", "3"
ESTADO_ERROR, ESTADO_REJECTED, ESTADO_EXPIRED = "4", "5", "6"
