"""The subpackages are layers: each imports only the layers below it, and one side effect lives in one place.

Every module of the package is parsed (imports inside functions and under ``TYPE_CHECKING`` count too)
and checked against the table below; a forbidden import is reported as ``module:line: what and why``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from testing.paths import PROJECT_ROOT

PACKAGE = "gitops_mlops"

# Bottom to top: core < yamltext < pins < config < gitstore < render < registry, forge, modelregistry
# (siblings: none imports another) < change < promote < views < fleet < loop < cli.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "yamltext": frozenset({"core"}),
    "pins": frozenset({"core", "yamltext"}),
    "config": frozenset({"core", "yamltext", "pins"}),
    "gitstore": frozenset({"core", "yamltext", "pins", "config"}),
    "render": frozenset({"core", "yamltext", "pins", "config", "gitstore"}),
    "registry": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render"}),
    "forge": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render"}),
    "modelregistry": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render"}),
    "change": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry"}),
    "promote": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry", "change"}),
    "views": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry", "change", "promote"}),
    "fleet": frozenset({"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry", "change", "promote", "views"}),
    "loop": frozenset(
        {"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry", "change", "promote", "views", "fleet"}
    ),
    "cli": frozenset(
        {"core", "yamltext", "pins", "config", "gitstore", "render", "registry", "forge", "modelregistry", "change", "promote", "views", "fleet", "loop"}
    ),
    # The package's own top-level modules: __init__ (the version) and __main__ (``python -m``, which calls the CLI).
    "": frozenset({"cli"}),
}

# What the package's own __init__ holds, below every layer.
ROOT_NAMES = frozenset({"__version__"})

# Third-party or standard modules that only some places may import: module -> (allowed places, why).
# A place is a subpackage (``gitstore/``) or one module (``render/kustomize.py``).
CONFINED: dict[str, tuple[frozenset[str], str]] = {
    "git": (frozenset({"gitstore/"}), "GitPython is gitstore's alone"),
    "subprocess": (
        frozenset({"gitstore/", "render/kustomize.py"}),
        "programs run in two places only: git (gitstore/) and kustomize (render/kustomize.py)",
    ),
}

# Modules a subpackage never imports, even where its layer would allow it: subpackage -> {module: why}.
BARRED: dict[str, dict[str, str]] = {
    "cli": {
        "git": "the CLI parses, calls the library and prints; git is gitstore's",
        "ruamel": "the CLI never reads or writes YAML itself; core.present prints it",
        "yaml": "the CLI never reads or writes YAML itself; core.present prints it",
    },
}


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The dotted names one import statement brings in, relative imports resolved against ``module``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")[: -node.level]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    if prefix == PACKAGE or (node.level and not node.module):
        return [f"{prefix}.{alias.name}" for alias in node.names]
    return [prefix]


def _place(relpath: str) -> tuple[str, str]:
    """(subpackage, path inside the package) of a module given as ``gitops_mlops/sub/mod.py``."""
    parts = Path(relpath).parts[1:]
    return (parts[0] if len(parts) > 1 else ""), "/".join(parts)


def violations(sources: Mapping[str, str]) -> list[str]:
    """Every forbidden import in ``sources`` ({``gitops_mlops/sub/mod.py``: its text}), one line each."""
    found: list[str] = []
    for relpath, text in sorted(sources.items()):
        sub, inside = _place(relpath)
        module = ".".join(Path(relpath).with_suffix("").parts)
        for node in ast.walk(ast.parse(text, filename=relpath)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found += [f"{relpath}:{node.lineno}: {problem}" for name in _imported(node, module) for problem in _problems(sub, inside, name)]
    return found


def _problems(sub: str, inside: str, name: str) -> Iterable[str]:
    parts = name.split(".")
    if parts[0] == PACKAGE:
        target = parts[1] if len(parts) > 1 else ""
        if target in ROOT_NAMES:
            return
        if target and target != sub and target not in ALLOWED.get(sub, frozenset()):
            yield f"{sub or PACKAGE} imports {target} ({name}), which its layer may not: it may import {sorted(ALLOWED.get(sub, ()))}"
        return
    top = parts[0]
    if top in CONFINED:
        places, why = CONFINED[top]
        if not any(inside == place or (place.endswith("/") and inside.startswith(place)) for place in places):
            yield f"imports {top}: {why}"
    if top in BARRED.get(sub, {}):
        yield f"{sub} imports {top}: {BARRED[sub][top]}"


def _package_sources() -> dict[str, str]:
    return {path.relative_to(PROJECT_ROOT).as_posix(): path.read_text() for path in (PROJECT_ROOT / PACKAGE).rglob("*.py")}


def test_every_subpackage_has_a_row_in_the_table():
    subpackages = {path.parent.name for path in (PROJECT_ROOT / PACKAGE).glob("*/__init__.py")}
    assert subpackages - ALLOWED.keys() == set()


def test_the_table_is_a_layer_order_and_registry_and_forge_are_siblings():
    for sub, allowed in ALLOWED.items():
        assert sub not in allowed
        for below in allowed:
            assert sub not in ALLOWED[below], f"{sub} and {below} may import each other"
    for one in ("registry", "forge", "modelregistry"):
        assert ALLOWED[one] & {"registry", "forge", "modelregistry"} == set()


def test_no_module_imports_above_its_layer_or_outside_its_confines():
    assert violations(_package_sources()) == []


def test_a_forbidden_import_is_reported_with_its_module_and_line():
    sources = {
        "gitops_mlops/pins/bad.py": "from gitops_mlops.core import errors\n\ndef f():\n    from gitops_mlops.render import kustomize\n",
        "gitops_mlops/registry/bad.py": "from ..forge import clients\n",
        "gitops_mlops/cli/bad.py": "import typer\nfrom ruamel.yaml import YAML\n",
        "gitops_mlops/views/bad.py": "import subprocess\nimport git\n",
        "gitops_mlops/render/ok.py": "from . import kustomize\nfrom gitops_mlops import config\n",
    }
    found = violations(sources)
    assert [line.split(": ", 1)[0] for line in found] == [
        "gitops_mlops/cli/bad.py:2",
        "gitops_mlops/pins/bad.py:4",
        "gitops_mlops/registry/bad.py:1",
        "gitops_mlops/views/bad.py:1",
        "gitops_mlops/views/bad.py:2",
    ], found
    assert "pins imports render (gitops_mlops.render)" in found[1]
    assert "registry imports forge (gitops_mlops.forge)" in found[2]
    assert "GitPython is gitstore's alone" in found[4]
