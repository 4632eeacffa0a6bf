"""Regenerate the project's own example GitOps repository from the default scaffold.

Run from anywhere: ``python scripts/regenerate_example.py``. It rewrites
gitops-mlops.yaml, base/, overlays/ and environments/ at the project root, and
removes files there that the scaffold no longer writes. The test
``test_default_layout_is_the_project_example`` fails until this has been run after
a change to ``gitops_mlops/config/scaffold.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitops_mlops.config.scaffold import ScaffoldSpec, render_layout, write_layout  # noqa: E402

EXAMPLE_DIRS = ("base", "overlays", "environments")


def main() -> int:
    spec = ScaffoldSpec()
    keep = set(render_layout(spec))
    for top in EXAMPLE_DIRS:
        for path in sorted((ROOT / top).rglob("*"), reverse=True):
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and relative not in keep:
                path.unlink()
                print(f"removed {relative}")
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    written = write_layout(ROOT, spec)
    print(f"wrote {len(written)} files under {ROOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
