"""The code style is configured in pyproject.toml and kept: ruff's checks and its formatter."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from testing.paths import PROJECT_ROOT


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert found, "ruff is not installed: scripts/bootstrap.sh installs it with the test extras (pip install -e '.[test]')"
    return found


def test_ruff_check_is_clean():
    proc = subprocess.run([_ruff(), "check", "--no-cache", "."], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean():
    proc = subprocess.run([_ruff(), "format", "--check", "--no-cache", "."], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
# The remaining exceptions, each with its reason: a file here is split as soon as the reason goes away.
LONG_ALLOWED: dict[str, str] = {}


def too_long(root: Path, folders: tuple[str, ...] = ("gitops_mlops", "tests", "testing")) -> list[str]:
    """``path`` for each module over MAX_MODULE_LINES lines and ``path::function`` for each function over MAX_FUNCTION_LINES."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            relpath = path.relative_to(root).as_posix()
            text = path.read_text()
            if len(text.splitlines()) > MAX_MODULE_LINES:
                found.append(relpath)
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    found.append(f"{relpath}::{node.name}")
    return found


def test_no_function_or_module_is_too_long_outside_the_allow_list():
    found = too_long(PROJECT_ROOT)
    assert [name for name in found if name not in LONG_ALLOWED] == []
    assert [name for name in LONG_ALLOWED if name not in found] == [], "no longer too long: remove it from LONG_ALLOWED"


def test_a_long_function_and_a_long_module_are_reported(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "gitops_mlops").mkdir()
    (tmp_path / "gitops_mlops" / "long.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n" + "\n" * MAX_MODULE_LINES)
    assert too_long(tmp_path, ("gitops_mlops",)) == ["gitops_mlops/long.py", "gitops_mlops/long.py::long"]
