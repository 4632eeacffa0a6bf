"""The progress line: on stderr when it is a terminal and the work runs long; never in a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from gitops_mlops.render.kustomize import Kustomize


@pytest.mark.slow
def test_a_progress_line_on_a_terminal_only(gitops_repo, tmp_path):
    """Work over two seconds shows a progress line on stderr when it is a terminal; a pipe gets none."""
    slow = tmp_path / "slow-kustomize"
    slow.write_text(f'#!/bin/sh\nsleep 2.5\nexec {" ".join(Kustomize.find().command)} "$@"\n')
    slow.chmod(0o755)
    env = {**os.environ, "GITOPS_MLOPS_KUSTOMIZE": str(slow), "GITOPS_MLOPS_RENDER_CACHE": "off"}
    piped = subprocess.run(
        [sys.executable, "-m", "gitops_mlops", "validate", "--site", "edge/*"], cwd=gitops_repo.work, env=env, capture_output=True, text=True
    )
    assert piped.returncode == 0 and "rendering sites" not in piped.stderr and "\r" not in piped.stderr
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_mlops", "validate", "--site", "edge/*", "--site", "cloud", "--site", "datacenter"],
        cwd=gitops_repo.work,
        env={**env, "GITOPS_MLOPS_RENDER_CACHE": "off"},
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert re.search(r"\rrendering sites \[[#.]{20}\] [123]/3", text) and "\x1b[K" in text  # drawn, then wiped
