"""The package's layers, and tests that mirror it: every module gitops_mlops/<package>/<module>.py has its own test file,
tests/<package>/test_<module>.py, testing that module's behaviour through its own API (other test
files may test it too, end to end or by theme)."""

from __future__ import annotations

from testing.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "gitops_mlops"
TESTS = PROJECT_ROOT / "tests"


def modules() -> list[str]:
    """Every module of the package but ``__init__`` and ``__main__``, as ``package/module``."""
    return sorted(path.relative_to(PACKAGE).with_suffix("").as_posix() for path in PACKAGE.rglob("*.py") if path.stem not in ("__init__", "__main__"))


def test_every_module_has_its_own_test_file():
    wanted = [f"tests/{m.rpartition('/')[0]}/test_{m.rpartition('/')[2]}.py" for m in modules()]
    missing = [path for path in wanted if not (PROJECT_ROOT / path).is_file()]
    assert missing == [], f"modules without their own test file: {', '.join(missing)}"


def test_every_module_lives_in_a_subpackage():
    assert modules() and all("/" in m for m in modules()), [m for m in modules() if "/" not in m]


def test_every_test_folder_is_a_package_mirroring_one():
    """tests/<package>/ for each subpackage (and tests/hostile/ for hostile input to any of them), each with its __init__.py (a test reads another's helpers by import)."""
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__" and any(p.glob("test_*.py"))}
    assert folders - {"hostile"} <= packages, folders - packages  # tests/hostile/: the hostile-input catalogue, across packages
    assert all((TESTS / name / "__init__.py").is_file() for name in folders)
