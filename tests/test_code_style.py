"""The code style is configured in pyproject.toml and kept: ruff's checks and its formatter."""

from __future__ import annotations

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
