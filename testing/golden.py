"""Golden files: what a test produced compared byte for byte with a file kept under tests/.

``GITOPS_MLOPS_UPDATE_GOLDEN=1`` writes what was produced over the expected files instead of comparing
(off by default). A regenerated file is a change to what the tool promises: review its diff
(``git diff tests/``) as you would a change to the code, and commit it only when every byte is meant.
"""

from __future__ import annotations

import os
from pathlib import Path

UPDATE = "GITOPS_MLOPS_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE) == "1"


def assert_golden(actual: str | bytes, expected: Path) -> None:
    """``actual`` equals the bytes of ``expected`` (or, when updating, becomes them)."""
    data = actual.encode() if isinstance(actual, str) else actual
    if updating():
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_bytes(data)
        return
    assert expected.is_file(), f"{expected} is missing; run with {UPDATE}=1 to write it, then review it"
    want = expected.read_bytes()
    assert data == want, (
        f"{expected} differs from what was produced (if the change is meant: {UPDATE}=1, then review the diff)\n--- produced\n{data.decode(errors='replace')}\n--- expected\n{want.decode(errors='replace')}"
    )
