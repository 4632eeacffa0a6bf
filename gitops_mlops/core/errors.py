"""One exception tree. Each class carries the exit code the CLI returns for it.

Exit codes: 0 done, 2 bad input or usage, 3 refused by policy,
4 rendering/validation failed, 5 git or remote failed, 6 registry failed,
7 monitoring failed.
"""

from __future__ import annotations


class GitOpsError(Exception):
    """Base of every error the tool reports to a user (never a bug)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # A message is one line: a newline would let input forge output lines.
        super().__init__(" ".join(str(message).split("\n")).strip())


class InputError(GitOpsError):
    """Bad input or usage: unknown names, malformed references, bad config."""

    exit_code = 2


class PolicyError(GitOpsError):
    """Refused by policy: stage order, downgrade, registry, hold."""

    exit_code = 3


class RenderError(GitOpsError):
    """kustomize failed, or the rendered output is invalid."""

    exit_code = 4


class GitError(GitOpsError):
    """git or the remote failed: dirty tree, push rejected, auth."""

    exit_code = 5


class PushRejected(GitError):
    """The remote moved on: the push was not a fast-forward. Retryable."""


class RegistryError(GitOpsError):
    """The image registry failed or does not have what was asked for."""

    exit_code = 6


class RegistryUnreachable(RegistryError):
    """No answer from the registry (refused, unresolvable, timed out): a digest check ``--no-verify`` skips could not be made."""


class MonitoringError(GitOpsError):
    """Monitoring could not be reached, or answered with an error (Prometheus down, a PromQL syntax error)."""

    exit_code = 7
