"""The patterns of names the tool accepts, in one place: models, sites, digests, hosts, branches."""

from __future__ import annotations

import re

from gitops_mlops.errors import InputError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # models and stages: DNS labels
SITE_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?(/[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?)*$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
DIGEST_PREFIX_RE = re.compile(r"^sha256:[a-f0-9]{12,64}$")  # a digest or an unambiguous start of one
VERSION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")  # what a tag or --version may hold
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
# git check-ref-format's rules for a branch, kept strict: letters, digits and . _ / - only.
BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*/\.)(?!\.)[A-Za-z0-9._/-]+(?<![./])(?<!\.lock)$")


def check_branch(name: str, what: str = "--branch") -> str:
    """A branch name git accepts, refused here before git ever runs (``a..b``, ``-x``, ``x.lock``)."""
    if not BRANCH_RE.match(name) or len(name) > 255:
        raise InputError(
            f"{what} {name!r} is not a valid branch name (letters, digits, . _ / -; no '..', no leading '-' or '.', no trailing '/', '.' or '.lock')"
        )
    return name


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """``; did you mean 'x'?`` naming the closest known names (by difflib's ratio), or nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
