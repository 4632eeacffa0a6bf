"""The patterns of names the tool accepts, in one place: models, sites, digests, hosts, branches."""

from __future__ import annotations

import re

from gitops_mlops.core.errors import InputError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")  # models and stages: DNS labels
SITE_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?(/[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?)*\Z")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}\Z")
DIGEST_PREFIX_RE = re.compile(r"^sha256:[a-f0-9]{12,64}\Z")  # a digest or an unambiguous start of one
VERSION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}\Z")  # what a tag or --version may hold
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?\Z")
# git check-ref-format's rules for a branch, kept strict: letters, digits and . _ / - only.
BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*/\.)(?!\.)[A-Za-z0-9._/-]+(?<![./])(?<!\.lock)\Z")


TOOL_BRANCHES = "gitops-mlops/"  # the tool's own branches live under this prefix
VERIFICATIONS_BRANCH = "gitops-mlops/verifications"
SPECIAL_REF_RE = re.compile(r"^[A-Z_]*HEAD\Z")  # HEAD, FETCH_HEAD, ORIG_HEAD, MERGE_HEAD, CHERRY_PICK_HEAD...


def check_branch(name: str, what: str = "--branch", reserved: tuple[str, ...] = (), tool: bool = False) -> str:
    """A branch name git accepts, refused here before git ever runs (``a..b``, ``-x``, ``x.lock``), that
    names no other ref (``refs/heads/main``, ``HEAD``, ``FETCH_HEAD``) and none of the tool's own branches
    (``gitops-mlops/...``, and the ``reserved`` ones: the config's hydrated branch). With ``tool`` (a branch
    the tool itself writes: the hydrated one) ``gitops-mlops/...`` is allowed, but for the verifications branch."""
    if not BRANCH_RE.match(name) or len(name) > 255:
        raise InputError(
            f"{what} {name!r} is not a valid branch name (letters, digits, . _ / -; no '..', no leading '-' or '.', no trailing '/', '.' or '.lock')"
        )
    if name.startswith("refs/") or SPECIAL_REF_RE.match(name):
        raise InputError(f"{what} {name!r} is not a valid branch name: it names a ref ('refs/...' or a special ref like HEAD), not a branch")
    if (name.startswith(TOOL_BRANCHES) and not tool) or name == VERIFICATIONS_BRANCH or name in reserved:
        raise InputError(f"{what} {name!r} is not a valid branch name here: it is one of the tool's own branches (verifications, hydrated manifests)")
    return name


def check_remote(name: str, what: str = "--remote") -> str:
    """A git remote's name: not an option, a URL or a path (``--upload-pack=...``, ``https://...``, ``../x``)."""
    path_like = name.startswith(("/", ".", "~")) or ".." in name.split("/")
    if not name or name.startswith("-") or path_like or any(c.isspace() or c in "\\:" for c in name) or len(name) > 255:
        raise InputError(f"{what} {name!r} is not a remote name")
    return name


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """``; did you mean 'x'?`` naming the closest known names (by difflib's ratio), or nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
