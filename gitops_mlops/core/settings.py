"""Settings from the environment (``GITOPS_MLOPS_*``), read here and only when used, never at import.

A bad value is bad input (exit 2, one line naming the variable), never a traceback.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime

from gitops_mlops.core.errors import InputError

SHM = "/dev/shm"


def number(name: str, default: float, minimum: float) -> float:
    """A numeric setting; empty or unset gives ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum):
        raise InputError(f"{name}={raw!r}: expected a number of at least {minimum:g}")
    return value


def push_attempts() -> int:
    """How often a push rejected because the remote moved is re-applied (default 30)."""
    value = number("GITOPS_MLOPS_PUSH_ATTEMPTS", 30, minimum=1)
    if value != int(value):
        raise InputError(f"GITOPS_MLOPS_PUSH_ATTEMPTS={os.environ['GITOPS_MLOPS_PUSH_ATTEMPTS'].strip()!r}: expected a whole number")
    return int(value)


def kustomize_timeout() -> float:
    """Seconds one kustomize process may run before it is killed (default 300)."""
    return number("GITOPS_MLOPS_KUSTOMIZE_TIMEOUT", 300, minimum=1)


def registry_timeout() -> float:
    """Seconds a registry request may take (default 30)."""
    return number("GITOPS_MLOPS_REGISTRY_TIMEOUT", 30, minimum=0.1)


def monitoring_timeout() -> float:
    """Seconds a Prometheus query may take (default 30)."""
    return number("GITOPS_MLOPS_MONITORING_TIMEOUT", 30, minimum=0.1)


def kustomize_command() -> str:
    """An explicit kustomize command line (``GITOPS_MLOPS_KUSTOMIZE``), or ''."""
    return os.environ.get("GITOPS_MLOPS_KUSTOMIZE", "").strip()


def scratch_dir() -> str | None:
    """Where temporary worktrees go: ``GITOPS_MLOPS_SCRATCH``, else memory (/dev/shm) when there is one.
    A checkout is thousands of small files; on tmpfs that costs a tenth of what it costs on disk."""
    override = os.environ.get("GITOPS_MLOPS_SCRATCH")
    if override:
        return override
    return SHM if os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK) else None


def render_cache_dir() -> str | None:
    """Where the render cache lives: ``GITOPS_MLOPS_RENDER_CACHE=off`` renders everything afresh
    (benchmarks of a cold start); a directory keeps one cache there for every repository (its keys
    are content, so repositories share it safely: a CI runner's cache volume); unset, "" (the
    repository's git directory). ``None`` when off."""
    raw = os.environ.get("GITOPS_MLOPS_RENDER_CACHE", "").strip()
    if raw.lower() in ("off", "0", "false", "no"):
        return None
    return "" if raw.lower() in ("", "on", "1", "true", "yes") else raw


def no_verify() -> bool:
    """``GITOPS_MLOPS_NO_VERIFY=1``: ``--no-verify`` for every command (an offline lab); said on stderr each time."""
    return os.environ.get("GITOPS_MLOPS_NO_VERIFY", "") not in ("", "0", "false", "no")


def now() -> datetime:
    """The time now, timezone-aware UTC: ``GITOPS_MLOPS_NOW`` (ISO 8601, e.g. 2026-01-02T03:04:05Z) when set
    (soak times in tests and drills), else the system clock. Every "now" the tool needs is read here."""
    raw = os.environ.get("GITOPS_MLOPS_NOW", "").strip()
    if not raw:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"GITOPS_MLOPS_NOW={raw!r}: expected an ISO 8601 time like 2026-01-02T03:04:05Z") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
