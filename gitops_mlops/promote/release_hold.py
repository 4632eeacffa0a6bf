"""release-hold: lift rollback holds so the held digest may be promoted there again (one commit)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gitops_mlops.change.intents import Publish, ReleaseHoldRequest
from gitops_mlops.change.transaction import file_change, guard, run_change, transact, unified_diff
from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.holds import remove_holds
from gitops_mlops.config.load import CONFIG_FILE, load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.core.errors import InputError
from gitops_mlops.core.names import DIGEST_PREFIX_RE
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote.result import Result


def full_digest(given: str, known: set[str]) -> str:
    """A digest or its first 12+ hex characters, as one of ``known``; ambiguity is an error, never a guess."""
    if not DIGEST_PREFIX_RE.match(given):
        raise InputError(f"--digest {given!r}: not a sha256 digest (sha256: and 12 to 64 hex characters)")
    found = sorted(d for d in known if d.startswith(given))
    if len(found) > 1:
        raise InputError(f"--digest {given!r} matches {len(found)} held digests ({', '.join(d[:19] for d in found)}); give more of it")
    return found[0] if found else given


def release_hold(repo_dir: Path, request: ReleaseHoldRequest, options: Publish = Publish()) -> Result:
    """Remove holds of the model at the selected sites (only those of ``request.digest`` when given)."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    model = config.model(request.model)
    chosen = select(discover_sites(repo_dir, config), request.selectors)  # bad selectors fail before anything
    if request.digest is not None:
        request = replace(
            request, digest=full_digest(request.digest, {h.digest for h in config.holds if h.model == model.name and h.site in {s.name for s in chosen}})
        )
    git = GitRepo(repo_dir)
    recovered = guard(git, [CONFIG_FILE])

    def apply(dry_run: bool) -> Result:  # a dry run: the real run's steps up to the commit; the file put back; the git remote never asked
        return _apply(repo_dir, git, model.name, request, dry_run)

    return replace(run_change(git, options, config, apply, "release-hold"), recovered=recovered)


def _apply(repo_dir: Path, git: GitRepo, model: str, request: ReleaseHoldRequest, dry_run: bool) -> Result:
    """Remove the holds from the config, check that it still loads, commit; on any failure (and in a
    dry run, before the commit) the file is put back."""
    fresh = load_config(repo_dir)
    targets = select(discover_sites(repo_dir, fresh), request.selectors)
    before = (repo_dir / CONFIG_FILE).read_bytes().decode("utf-8")
    after, removed = remove_holds(before, model, {s.name for s in targets}, request.digest)
    released = tuple(f"{h.site}@{h.digest}" for h in removed)
    result = Result(action="release-hold", model=model, version="", image="", digest=request.digest or "", changed=released, unchanged=())
    if not removed:
        return result
    edit = FileEdit(CONFIG_FILE, before, after)
    sites = tuple(sorted({h.site for h in removed}))
    message = trailers.write(trailers.Record("release-hold", model, "", (("", sites),), subject=f"release {len(removed)} hold(s) on {model}"))
    done = transact(git, file_change(repo_dir, [edit], lambda: message, verify=lambda: load_config(repo_dir)), dry_run)
    if dry_run:
        return replace(result, diff=unified_diff([edit]))
    return replace(result, commit=done.commit, branch=git.branch())
