"""The layers of .importlinter hold (import-linter): no upward import, no AiiDA in the science layer, no circle."""

from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_import_contracts_are_kept(monkeypatch):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True) == 0


def test_a_broken_contract_is_reported(monkeypatch, tmp_path):
    """The same check fails where the code breaks a contract (here one it must break: the science uses numpy)."""
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    config = tmp_path / "contracts.ini"
    config.write_text((ROOT / ".importlinter").read_text().replace("    aiida\n", "    numpy\n"))
    assert lint_imports(config_filename=str(config), no_cache=True, no_logo=True) == 1
