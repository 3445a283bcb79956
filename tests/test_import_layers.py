"""The layers of .importlinter hold (import-linter): no upward import, no AiiDA in the science layer, no circle.

``lint-imports`` runs as its own process: in this one its logging set-up (``dictConfig`` keeping no existing
logger) would silence every AiiDA logger already made, and with them the process reports of every later test."""

import subprocess
from pathlib import Path

from .commands import BIN

ROOT = Path(__file__).parents[1]


def _lint_imports(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lint-imports"), str(config), "--no-cache", "--no-logo"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept():
    result = _lint_imports(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_contract_is_reported(tmp_path):
    """The same check fails where the code breaks a contract (here one it must break: the science uses numpy)."""
    config = tmp_path / "contracts.ini"
    config.write_text((ROOT / ".importlinter").read_text().replace("    aiida\n", "    numpy\n"))
    result = _lint_imports(config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout


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
