"""Configuration: one TOML file under PASARELA_HOME, every key overridable from the environment.

Environment overrides use ``PASARELA_<SECTION>__<KEY>`` (double underscore between levels,
list items addressed by index): ``PASARELA_SERVER__API_TOKEN``,
``PASARELA_JUMPSELLER__STORES__0__HOOKS_TOKEN``. ``PASARELA_DATABASE_URL`` is a short alias for
``PASARELA_DATABASE__URL``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "PASARELA_"
ENV_ALIASES = {"PASARELA_DATABASE_URL": "PASARELA_DATABASE__URL"}
# Environment variables of ours that are not configuration keys.
NOT_CONFIG_VARS = {"PASARELA_HOME", "PASARELA_CONFIG", "PASARELA_CFDI_C_READER", "PASARELA_TEST_PG"}


def home_dir() -> Path:
    return Path(os.environ.get("PASARELA_HOME", "./.pasarela")).resolve()


def config_path() -> Path:
    explicit = os.environ.get("PASARELA_CONFIG")
    return Path(explicit).resolve() if explicit else home_dir() / "pasarela.toml"


def default_config_text() -> str:
    """The file written on first start: every declared section's defaults, fresh random secrets."""
    from pasarela.core.sections import default_text

    return default_text()


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

    def provider_config(self, provider: str) -> Any:
        """A provider's section, validated by the model its plug-in declares (`ProviderPlugin.config`).
        Raises ConfigError naming every wrong key; a running server never gets that far (`check`)."""
        from pasarela.core.config_model import check
        from pasarela.core.errors import ConfigError
        from pasarela.core.sections import section_model
        from pasarela.plugins import plugin_with_config

        path = plugin_with_config(provider).config[0]  # type: ignore[index]
        found, problems = check(path, section_model(path), self.section(path) or {})
        if found is None:
            raise ConfigError("; ".join(str(p) for p in problems))
        return found.bind(self)

    def problems(self) -> list[Any]:
        """Every problem of this configuration (file and environment), each with its key path."""
        from pasarela.core.sections import problems

        return problems(self.raw)

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
    """The environment's text in the type the file has; text it cannot be is left for `check` to report."""
    try:
        if isinstance(current, bool):
            return text.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
    except ValueError:
        pass
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
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        from pasarela.core.errors import ConfigError

        raise ConfigError(f"{path} no es TOML válido: {exc}") from None
    apply_env(raw)
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return Settings(raw=raw, home=home, path=path, created=created)
