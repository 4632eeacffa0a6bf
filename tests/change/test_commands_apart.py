"""No write command imports another command: what they share lives in ``change/`` (the transaction)
or in a module of ``promote/`` that is no command (plan, result, apply, together, settle, rollbackplan,
and the release promotion ``releases`` that ``promote --release`` and ``update --release`` both run).

An AST check of every import, at module level or inside a function."""

from __future__ import annotations

import ast

import pytest

from testing.paths import PROJECT_ROOT

WRITE_COMMANDS = (
    "gitops_mlops.promote.promotion",
    "gitops_mlops.promote.rollback",
    "gitops_mlops.promote.release_hold",
    "gitops_mlops.promote.update",
    "gitops_mlops.promote.releaseupdate",
    "gitops_mlops.promote.releaserollback",
    "gitops_mlops.fleet.siteadmin",
    "gitops_mlops.fleet.push",
)
COMMANDS = (
    *WRITE_COMMANDS,
    "gitops_mlops.fleet.init",
    "gitops_mlops.fleet.check",
    "gitops_mlops.views.status",
    "gitops_mlops.views.history",
    "gitops_mlops.views.diff",
    "gitops_mlops.loop.verify",
    "gitops_mlops.loop.act",
    "gitops_mlops.loop.rollout",
)


def imported(module: str) -> set[str]:
    """Every module ``module`` imports (``from a.b import c`` counts as a.b and as a.b.c)."""
    path = PROJECT_ROOT / (module.replace(".", "/") + ".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


@pytest.mark.parametrize("command", WRITE_COMMANDS)
def test_a_write_command_imports_no_other_command(command):
    others = sorted(imported(command) & (set(COMMANDS) - {command}))
    assert others == [], f"{command} imports the command module(s) {others}; move what they share into change/ or a promote/ module that is no command"


def test_the_check_reads_imports_inside_functions_too():
    assert "gitops_mlops.promote.together.promote_together" in imported("gitops_mlops.promote.update")
