"""The whole configuration against every declared section (`pasarela.core.sections`), `config check`,
and start-up refusing a wrong file with the key path instead of a traceback later."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pasarela.config import Settings, default_config_text, load_settings
from pasarela.core.endpoints import Endpoints
from pasarela.core.errors import ConfigError
from pasarela.core.sections import all_sections, problems
from pasarela.plugins import plugins


def _default() -> dict[str, Any]:
    return tomllib.loads(default_config_text())


def test_the_default_file_is_valid_and_holds_every_declared_section() -> None:
    raw = _default()
    assert problems(raw) == []
    written = [path for path, _, shown in all_sections() if shown]
    for path in written:
        node: Any = raw
        for part in path.split("."):
            node = node[part]
        assert isinstance(node, dict)
    assert {p.config[0] for p in plugins() if p.config} <= set(written)


def test_every_provider_reads_its_section_through_its_model(tmp_path: Path) -> None:
    settings = Settings(raw=_default(), home=tmp_path, path=tmp_path / "pasarela.toml")
    for plugin in plugins():
        if plugin.config is not None:
            section = settings.provider_config(plugin.name)
            assert section.settings is settings


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (lambda raw: raw["pe"].update(mode="produccion"), "pe.mode", "simulator, test, production"),
        (lambda raw: raw["worker"].update(threads="dos"), "worker.threads", "número entero"),
        (lambda raw: raw["mx"]["facti"].update(company_idd=3), "mx.facti.company_idd", "clave desconocida"),
        (lambda raw: raw.update(bo_cooplan={}), "bo_cooplan", "desconocida"),
        (
            lambda raw: raw["jumpseller"]["stores"][0].update(default_document=61),
            "jumpseller.stores.0.default_document",
            "33, 34, 39 o 41",
        ),
        (
            lambda raw: raw["jumpseller"]["stores"].append(dict(raw["jumpseller"]["stores"][0])),
            "jumpseller.stores",
            "repetido",
        ),
        (lambda raw: raw["bo"]["cooplan"]["simulator"].update(report="todo"), "bo.cooplan.simulator.report", "rows"),
    ],
)
def test_each_problem_names_its_key_path_in_spanish(change: Any, key: str, words: str) -> None:
    raw = _default()
    change(raw)
    found = problems(raw)
    assert [p.key for p in found] == [key], found
    assert words in found[0].message


def test_a_wrong_provider_section_raises_a_config_error_with_the_key(tmp_path: Path) -> None:
    raw = _default()
    raw["mx"]["mysuite"]["split"] = "semana"
    settings = Settings(raw=raw, home=tmp_path, path=tmp_path / "pasarela.toml")
    with pytest.raises(ConfigError, match=r"mx\.mysuite\.split: debe ser uno de: month, year, none"):
        settings.provider_config("mysuite")


def test_out_of_simulator_mode_a_provider_never_talks_to_a_simulator(tmp_path: Path) -> None:
    settings = Settings(raw=_default(), home=tmp_path, path=tmp_path / "pasarela.toml")
    table = Endpoints(
        provider="facto", test="https://t.example/x", production="https://p.example/x", simulator_path="/x"
    )
    assert table.url("simulator", settings) == f"{settings.public_url}/sim/facto/x"
    assert table.url("production", settings) == "https://p.example/x"
    with pytest.raises(ConfigError, match="simulador"):
        table.url("production", settings, override=f"{settings.public_url}/sim/facto/x")
    with pytest.raises(ConfigError, match="modo desconocido"):
        table.url("prod", settings)


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "PASARELA_HOME": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "pasarela", *args], env=environ, capture_output=True, text=True, timeout=60
    )


def test_config_check_and_serve_refuse_a_wrong_file_with_every_key_path(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PASARELA_HOME", str(tmp_path))
    load_settings()  # writes the default file
    assert _run(tmp_path, "config", "check").returncode == 0
    path = tmp_path / "pasarela.toml"
    path.write_text(path.read_text().replace('split = "month"', 'split = "semana"') + "\n[extra]\nx = 1\n")
    for args in (("config", "check"), ("serve", "--port", "1"), ("worker",)):
        result = _run(tmp_path, *args, PASARELA_WORKER__THREADS="x")
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        for key in ("mx.mysuite.split", "extra", "worker.threads"):
            assert key in result.stderr, (args, result.stderr)
    path.write_text("[server\n")
    broken = _run(tmp_path, "config", "check")
    assert broken.returncode == 2 and "no es TOML válido" in broken.stderr and "Traceback" not in broken.stderr
