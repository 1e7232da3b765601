"""Configuration: one TOML file under PASARELA_HOME, every key overridable from the environment.

Environment overrides use ``PASARELA_<SECTION>__<KEY>`` (double underscore between levels,
list items addressed by index): ``PASARELA_SERVER__API_TOKEN``,
``PASARELA_JUMPSELLER__STORES__0__HOOKS_TOKEN``. ``PASARELA_DATABASE_URL`` is a short alias for
``PASARELA_DATABASE__URL``.
"""

from __future__ import annotations

import base64
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "PASARELA_"
ENV_ALIASES = {"PASARELA_DATABASE_URL": "PASARELA_DATABASE__URL"}
NOT_CONFIG_VARS = {"PASARELA_HOME", "PASARELA_CONFIG"}


def home_dir() -> Path:
    return Path(os.environ.get("PASARELA_HOME", "./.pasarela")).resolve()


def config_path() -> Path:
    explicit = os.environ.get("PASARELA_CONFIG")
    return Path(explicit).resolve() if explicit else home_dir() / "pasarela.toml"


def default_config_text() -> str:
    """The file written on first start: working defaults, simulator mode, fresh random secrets."""
    api_token = secrets.token_urlsafe(24)
    hooks_token = secrets.token_hex(16)
    facto_key = secrets.token_hex(16)
    facti_key = secrets.token_hex(16)
    jumpseller_token = secrets.token_hex(16)
    ipn_password = secrets.token_urlsafe(12)
    alerts_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return f'''# pasarela configuration. Every key can be overridden by an environment variable:
# PASARELA_<SECTION>__<KEY>, e.g. PASARELA_SERVER__API_TOKEN, PASARELA_DATABASE_URL.

[server]
host = "127.0.0.1"
port = 8000
# Bearer token for /api/* (send "Authorization: Bearer <api_token>").
api_token = "{api_token}"
# Where workers and simulator links reach this server.
public_url = "http://127.0.0.1:8000"

[database]
# Empty: the embedded SQLite ledger at $PASARELA_HOME/ledger.db.
# PostgreSQL: "postgresql+psycopg://user:pass@host:5432/dbname".
url = ""

[worker]
# Worker threads started by `pasarela serve` (0 disables the in-process pool).
threads = 2
lease_seconds = 60
max_attempts = 8
# Seconds between polls when no job is ready.
poll_interval = 0.2

[artifacts]
# Empty: $PASARELA_HOME/artifacts
dir = ""

[simulators]
# Mount every provider simulator under /sim/<provider>/ (needed by simulator mode).
enabled = true

[smtp]
# Leave host empty to send no mail.
host = ""
port = 25
from = "pasarela@localhost"

[[jumpseller.stores]]
code = "demo"
company_name = "Comercial Demo SpA"
# The store's hooks token, shown in Jumpseller > Configuración > Notificaciones.
hooks_token = "{hooks_token}"
# Default document when the order says nothing: 39 boleta electrónica.
default_document = 39
# Jumpseller API (Configuración › API: login and auth token), used by `pasarela cl reconcile` to find
# paid orders whose webhook never arrived (Jumpseller pauses a hook after 8 failed deliveries).
api_login = "demo"
api_token = "{jumpseller_token}"

[jumpseller.stores.facto]
# simulator | test | production
mode = "simulator"
# "<RUT empresa con puntos>/<login API>" and the 32-hex API key from Facto > Servicios API.
user = "1.111.111-4/pruebasapi"
password = "{facto_key}"

# ---------------------------------------------------------------- Perú: Bizlinks OSE
[pe]
ruc = "20000000001"
name = "EMPRESA DEMO S.A.C."
trade_name = ""
address = "AV. JOSÉ PARDO 123"
ubigeo = "150122"
district = "MIRAFLORES"
province = "LIMA"
department = "LIMA"
# Código de local anexo (AddressTypeCode)
establishment = "0000"
factura_series = "F001"
boleta_series = "B001"
# PKCS#12 (.pfx/.p12) or PEM key+cert. Empty: a self-signed test certificate is made under $PASARELA_HOME/pe/
certificate_path = ""
certificate_password = ""
# simulator | test | production
mode = "simulator"
# Empty user: <RUC>BIZLINKS (seed). Test password: TESTBIZLINKS
user = ""
password = "TESTBIZLINKS"
# First delay (s) for ticket polling and in-doubt lookups
poll_seconds = 2.0
email_documents = true

# ---------------------------------------------------------------- México: Facti payments
[mx.facti]
# simulator | test (api.sandbox.facti.mx) | production (api.facti.mx)
mode = "simulator"
# From www.facti.mx/api/keys (the same pair works in sandbox and production).
client_id = "simfacti0client0id00000000000001"
api_key = "{facti_key}"
# Your company at Facti and its RFC (from_rfc).
company_id = 1
from_rfc = "EKU9003173C9"
# The IPN password configured at Facti, in clear; Facti sends its MD5.
ipn_password = "{ipn_password}"
# Optional: forward every payment notice to your ERP, signed with HMAC-SHA256.
erp_forward_url = ""
erp_forward_secret = ""
erp_forward_attempts = 8
strict_rfc_check_digit = true

# ---------------------------------------------------------------- México: MYSuite bulk download
[mx.mysuite]
mode = "simulator"
rfc = "EKU9003173C9"
# Empty: the SAT's published test FIEL shipped with pasarela (simulator only).
fiel_cer_path = ""
fiel_key_path = ""
fiel_password = ""
timeout = 90.0
poll_initial_seconds = 60.0
poll_max_seconds = 3600.0
split = "month"
sim_accept_seconds = 2.0
sim_finish_seconds = 5.0
sim_poll_seconds = 1.0
sim_docs_per_month = 20
sim_package_size = 200

# ---------------------------------------------------------------- Bolivia: Cooplan / PagoFácil
[bo.cooplan]
# simulator | test | production
mode = "simulator"
# Empty: the seed's URL for the mode (simulator: <public_url>/sim/cooplan)
base_url = ""
codseguridad = "SIM-CODSEG-0001"
login = "pasarela.demo"
pwd = "demo-cooplan-pwd"
cajero = "caja-1"
# 0: keep the token until Cooplan refuses it
token_max_age_seconds = 0
# The seed's production URL is plain http://
allow_plain_http = false

[bo.cooplan.simulator]
token_lifetime_seconds = 900
# rows | seed (bare success string, as in the seed)
report = "rows"
codseguridad = "SIM-CODSEG-0001"
login = "pasarela.demo"
pwd = "demo-cooplan-pwd"

# ================================================================ schedule and alerts (BEGIN: pasarela.schedule)
# The workers do every periodic duty themselves: each slot runs once however many workers there are.
# `pasarela schedule list` shows each duty with its last and next run; docs/schedule.md lists them all.
[schedule]
enabled = true
# Seconds between the workers' looks at the schedule.
tick_seconds = 5.0
# After downtime: at most this many missed slots per duty, none older than catch_up_hours.
max_catch_up = 24
catch_up_hours = 72
# Per duty, e.g. (cadence: cron "*/15 * * * *" or "every 15m"; catch_up: each | once; timezone):
# [schedule.cl_reconcile]
# cadence = "*/5 * * * *"
# [schedule.mx_cfdi_month_to_date]
# enabled = false

[alerts]
# Channels. E-mail goes through [smtp] (host required); one address or a list.
email_to = ""
# A signed webhook (Svix-style headers webhook-id, webhook-timestamp, webhook-signature) for chat or an ERP.
webhook_url = ""
webhook_secret = "{alerts_secret}"
# One message per rule per this many minutes, listing every alert it carries.
group_minutes = 5.0
# Per rule thresholds, e.g.:
# [alerts.provider_failures]
# window_minutes = 5
# failure_percent = 50
# END: pasarela.schedule
'''


@dataclass
class Settings:
    """Parsed configuration. ``raw`` keeps every section for provider plug-ins to read."""

    raw: dict[str, Any]
    home: Path
    path: Path
    created: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def section(self, dotted: str) -> Any:
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return {}
            node = node[part]
        return node

    def get(self, dotted: str, default: Any = None) -> Any:
        head, _, last = dotted.rpartition(".")
        node = self.section(head) if head else self.raw
        value = node.get(last, default) if isinstance(node, dict) else default
        return default if value is None else value

    @property
    def database_url(self) -> str:
        url = self.get("database.url", "")
        if url:
            return str(url)
        return f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def artifacts_dir(self) -> Path:
        configured = self.get("artifacts.dir", "")
        return Path(configured).resolve() if configured else self.home / "artifacts"

    @property
    def api_token(self) -> str:
        return str(self.get("server.api_token", ""))

    @property
    def public_url(self) -> str:
        return str(self.get("server.public_url", "http://127.0.0.1:8000")).rstrip("/")

    def simulator_url(self, provider: str) -> str:
        return f"{self.public_url}/sim/{provider}"

    def secrets(self) -> list[str]:
        """Every configured value whose key names a secret, for redaction."""
        found: list[str] = []
        _collect_secrets(self.raw, found)
        return found


SECRET_KEY_WORDS = ("token", "password", "pwd", "key", "secret", "clave", "seguridad")


def _collect_secrets(node: Any, found: list[str], key: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _collect_secrets(v, found, k)
    elif isinstance(node, list):
        for item in node:
            _collect_secrets(item, found, key)
    elif isinstance(node, str) and len(node) >= 4 and any(w in key.lower() for w in SECRET_KEY_WORDS):
        if not key.lower().endswith(("_path", "_file")):
            found.append(node)


def _coerce(text: str, current: Any) -> Any:
    if isinstance(current, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return text


def _apply_override(raw: dict[str, Any], path: list[str], text: str) -> None:
    node: Any = raw
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            index = int(part)
            while len(node) <= index:
                node.append({})
            if last:
                node[index] = _coerce(text, node[index])
                return
            node = node[index]
            continue
        if last:
            node[part] = _coerce(text, node.get(part))
            return
        if part not in node or not isinstance(node[part], dict | list):
            node[part] = [] if path[i + 1].isdigit() else {}
        node = node[part]


def apply_env(raw: dict[str, Any], environ: dict[str, str] | None = None) -> None:
    environ = dict(os.environ if environ is None else environ)
    for alias, target in ENV_ALIASES.items():
        if alias in environ:
            environ.setdefault(target, environ[alias])
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in NOT_CONFIG_VARS or name in ENV_ALIASES:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if path:
            _apply_override(raw, path, value)


def load_settings(create: bool = True) -> Settings:
    """Read the config file (writing the default one on first use) and apply the environment."""
    path = config_path()
    created = False
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no configuration at {path}; run `pasarela init`")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_config_text(), encoding="utf-8")
        path.chmod(0o600)
        created = True
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    apply_env(raw)
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return Settings(raw=raw, home=home, path=path, created=created)
