import os
from pathlib import Path

import pytest

from pasarela.config import apply_env, load_settings


def test_first_start_writes_default_config_with_random_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PASARELA_HOME", str(tmp_path / "a"))
    first = load_settings()
    assert first.created and first.path.exists()
    assert oct(first.path.stat().st_mode & 0o777) == "0o600"
    store = first.section("jumpseller")["stores"][0]
    assert store["code"] == "demo" and store["facto"]["mode"] == "simulator"
    monkeypatch.setenv("PASARELA_HOME", str(tmp_path / "b"))
    second = load_settings()
    assert second.api_token != first.api_token
    assert second.section("jumpseller")["stores"][0]["hooks_token"] != store["hooks_token"]
    again = load_settings()
    assert not again.created and again.api_token == second.api_token


def test_every_key_overridable_from_environment():
    raw = {
        "server": {"port": 8000, "api_token": "x"},
        "worker": {"threads": 2, "poll_interval": 0.2},
        "jumpseller": {"stores": [{"code": "demo", "facto": {"mode": "simulator"}}]},
    }
    apply_env(
        raw,
        {
            "PASARELA_SERVER__PORT": "9001",
            "PASARELA_WORKER__POLL_INTERVAL": "0.5",
            "PASARELA_DATABASE_URL": "postgresql://u@h/db",
            "PASARELA_JUMPSELLER__STORES__0__FACTO__MODE": "production",
            "PASARELA_JUMPSELLER__STORES__1__CODE": "otra",
            "PASARELA_HOME": "/ignored",
        },
    )
    assert raw["server"]["port"] == 9001
    assert raw["worker"]["poll_interval"] == 0.5
    assert raw["database"]["url"] == "postgresql://u@h/db"
    assert raw["jumpseller"]["stores"][0]["facto"]["mode"] == "production"
    assert raw["jumpseller"]["stores"][1]["code"] == "otra"
    assert "home" not in raw


def test_database_defaults_to_sqlite_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key in [k for k in os.environ if k.startswith("PASARELA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PASARELA_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert settings.artifacts_dir == tmp_path / "artifacts"


def test_strict_json_refuses_what_postgresql_refuses():
    from pasarela.core import strict_json

    assert strict_json.loads('{"a": 1.5}') == {"a": 1.5}
    for text in ('{"a": NaN}', '{"a": Infinity}', "[-Infinity]", '{"a": "x\\u0000"}', '[{"\\u0000": 1}]'):
        with pytest.raises(ValueError, match="no está permitido"):
            strict_json.loads(text)
    assert strict_json.loads('{"a": "\\\\u0000"}') == {"a": "\\u0000"}  # an escaped backslash, no NUL
