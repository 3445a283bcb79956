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


MAIN_WORKCHAIN_LINES = 400  # the loop, read like the paper's figure; the stages are child work chains
WORKCHAIN_FUNCTION_LINES = 40


def long_functions(path: Path, limit: int) -> list[str]:
    """The functions (methods included) of ``path`` longer than ``limit`` lines, as ``name (n lines)``."""
    import ast

    tree = ast.parse(path.read_text())
    return [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > limit]


def test_the_loop_is_short_and_its_steps_are_short():
    workchains = ROOT / "aiida_cryspai" / "workchains"
    assert len((workchains / "main.py").read_text().splitlines()) <= MAIN_WORKCHAIN_LINES
    too_long = {path.name: long_functions(path, WORKCHAIN_FUNCTION_LINES) for path in workchains.glob("*.py")}
    assert not {name: found for name, found in too_long.items() if found}


def test_a_long_function_is_found(tmp_path):
    source = tmp_path / "long.py"
    source.write_text("def short():\n    return 1\n\n\ndef long():\n" + "    x = 1\n" * 41)
    assert long_functions(source, 40) == ["long (42 lines)"]
