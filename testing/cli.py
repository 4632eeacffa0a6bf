"""The real command line, run as a user runs it: in this process by default, or in a new interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cli:
    code: int
    out: str
    err: str


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> Cli:
    """Run the real command line: its entry point, with these arguments, working directory and
    environment, stdout and stderr captured apart, the exit code as the process would return it.

    In this process by default (a new interpreter per command cost about a third of the inner loop);
    in a subprocess from a thread other than the main one (the working directory and environment
    belong to the process) or with GITOPS_MLOPS_TEST_CLI=subprocess."""
    if os.environ.get("GITOPS_MLOPS_TEST_CLI") == "subprocess" or threading.current_thread() is not threading.main_thread():
        return cli_subprocess(*args, cwd=cwd, env=env)
    return _cli_in_process(args, cwd, env or {})


def cli_subprocess(*args: str, cwd: Path | None = None, env: dict | None = None) -> Cli:
    """Run the real command line in a new interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_mlops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


def _cli_in_process(args: tuple[str, ...], cwd: Path | None, env: dict) -> Cli:
    import contextlib
    import io
    import traceback

    from gitops_mlops.cli import main as entry
    from gitops_mlops.core import progress

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["gitops-mlops", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    err.write(exc.code + "\n")
            except Exception:  # what an interpreter prints for an uncaught exception, and its exit code
                traceback.print_exc(file=err)
                code = 1
    finally:
        progress._enabled = False  # main() turned it on only if stderr was a terminal; never leave it on
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Cli(code, out.getvalue(), err.getvalue())
