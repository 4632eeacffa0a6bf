"""Where the project is, the digests tests pin, and the fixtures from outside it (CRDs, output schemas)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64


def crd_dir() -> Path:
    """The CRD fixtures: ``GITOPS_MLOPS_CRDS``, else ``../shared/crds`` beside the project.

    They are test fixtures from outside and never copied into the project. Where neither
    exists (a clone elsewhere) the test is skipped with one line; under CI=true it fails."""
    override = os.environ.get("GITOPS_MLOPS_CRDS", "").strip()
    candidates = [Path(override)] if override else [PROJECT_ROOT.parent / "shared" / "crds"]
    for path in candidates:
        if path.is_dir():
            return path
    reason = f"no CRD fixtures at {candidates[0]} (set GITOPS_MLOPS_CRDS or check the project out beside shared/)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


_schemas: list = []


def product_schemas():
    """The product's schema checker pointed at the real CRDs, made once per process (parsing them takes seconds)."""
    if not _schemas:
        from gitops_mlops.render.schemas import Schemas

        _schemas.append(Schemas(crds=(crd_dir(),)))
    return _schemas[0]


def status_row_keys() -> set[str]:
    """The fields of a ``status -o json`` row, as its schema (schemas/output/status.json) writes them down."""
    schema = json.loads((PROJECT_ROOT / "schemas" / "output" / "status.json").read_text())
    return set(schema["items"]["required"])
