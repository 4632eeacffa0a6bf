"""Temporary folders: named by the process that made them, swept once that process is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from gitops_mlops.core import scratch


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _left(base, name: str, age: float) -> None:
    path = base / name
    (path / "inside").mkdir(parents=True)
    (path / "inside" / "file").write_text("x")
    then = time.time() - age
    os.utime(path, (then, then))


def test_a_new_folder_sweeps_what_killed_runs_left_and_keeps_everything_else(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    _left(tmp_path, f"gitops-mlops-render-{dead}-abc12_x9", age=3600)  # a killed run: removed
    _left(tmp_path, f"gitops-mlops-render-{dead}-young123", age=5)  # too young to judge: kept
    _left(tmp_path, f"gitops-mlops-render-{alive}-running1", age=3600)  # its process still runs: kept
    _left(tmp_path, f"gitops-mlops-diff-{dead}-otherkin", age=3600)  # another kind: its own sweep
    _left(tmp_path, "gitops-mlops-render-12345678", age=3600)  # named before folders carried a pid: kept
    _left(tmp_path, f"unrelated-{dead}-abc", age=3600)
    with scratch.folder("render", str(tmp_path)) as made:
        assert os.path.basename(made).startswith(f"gitops-mlops-render-{os.getpid()}-") and os.path.isdir(made)
        left = sorted(p.name for p in tmp_path.iterdir() if p.name != os.path.basename(made))
    assert left == sorted(
        [
            f"gitops-mlops-render-{dead}-young123",
            f"gitops-mlops-render-{alive}-running1",
            f"gitops-mlops-diff-{dead}-otherkin",
            "gitops-mlops-render-12345678",
            f"unrelated-{dead}-abc",
        ]
    )
    assert not os.path.exists(made)  # its own folder goes when the work is done


def test_rendering_sweeps_the_temp_dir(tmp_path, monkeypatch, gitops_repo):
    from gitops_mlops.config.sites import Site
    from gitops_mlops.render.kustomize import render_sites

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _left(tmp_path / "tmp", f"gitops-mlops-render-{_dead_pid()}-killed99", age=3600)
    result = render_sites(gitops_repo.work, (Site("datacenter", "overlays/datacenter", "datacenter"),))
    assert result["datacenter"].ok and list((tmp_path / "tmp").iterdir()) == []
