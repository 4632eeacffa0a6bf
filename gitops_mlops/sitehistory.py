"""A site's earlier states, from its renders at earlier commits.

The commits are those on the first-parent line that touch the site's input files (its
overlay and every folder its build reads); the site is rendered at each, from those
folders as they were (cached by content like every render), so its history reaches
back before the tool's first commit and shows changes made by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops import kustomization, scratch, settings, trailers
from gitops_mlops.config import Config, Model
from gitops_mlops.errors import GitOpsError
from gitops_mlops.gitrepo import GitRepo
from gitops_mlops.inputs import References, check_references, site_closure
from gitops_mlops.kustomization import Pin
from gitops_mlops.rendercache import RenderCache
from gitops_mlops.renders import ModelMatcher, render_state, split_image
from gitops_mlops.sites import Site

MAX_COMMITS = 1000


@dataclass(frozen=True)
class State:
    """What the site ran from ``commit`` on (until the next newer state)."""

    commit: str
    images: tuple[str, ...]  # the model's images in the site's render, sorted, distinct
    pin: Pin | None  # the site's own pin of ``pin_name`` at that commit
    record: trailers.Record | None  # what the commit says it did, when the tool made it
    error: str = ""
    date: str = ""
    author: str = ""

    @property
    def digest(self) -> str:
        return split_image(self.images[0])[2] if self.images else ""

    @property
    def version(self) -> str:
        return (split_image(self.images[0])[1] if self.images else "") or (self.pin.new_tag if self.pin else "") or ""

    def undoes(self, model: str, site: str) -> bool:
        return self.record is not None and self.record.action == "rollback" and self.record.model == model and site in self.record.sites


def site_states(
    repo_dir: Path, git: GitRepo, config: Config, model: Model, site: Site, pin_name: str, cache: RenderCache, limit: int = MAX_COMMITS
) -> Iterator[State]:
    """The site's states, newest first: one per commit touching its inputs."""
    repo_dir = Path(repo_dir).resolve()
    refs = References(parsed=cache.references())
    check_references(repo_dir, site, config.policy.remote_resources, refs)
    folders = list(site_closure(repo_dir, site, refs))
    commits = git.log_trailers("HEAD", paths=folders, limit=limit, first_parent=True)
    matcher = ModelMatcher(config)
    file = kustomization.find_kustomization_file(repo_dir / site.path)
    rel = f"{site.path}/{file.name if file else 'kustomization.yaml'}"
    with scratch.folder("history", settings.scratch_dir()) as tmp:
        for n, commit in enumerate(commits):
            yield _state_at(git, config, model, site, pin_name, folders, rel, commit, Path(tmp) / str(n), matcher, cache)


def _state_at(git, config, model, site, pin_name, folders, rel, commit, tree: Path, matcher, cache) -> State:
    record = trailers.read(commit)
    text = git.show_file(commit.sha, rel)
    pin = None
    if text is not None:
        try:
            pin = next((p for p in kustomization.pins(text, rel) if p.name == pin_name), None)
        except GitOpsError:
            pin = None
    tree.mkdir()
    present = git.paths_at(commit.sha, folders)
    if present:
        git.extract(commit.sha, present, tree)
    at = Site(site.name, site.path, site.stage)
    state = render_state(tree, config, (at,), cache=cache)[site.name]
    if not state.ok and set(present) != set(folders):  # its inputs were elsewhere then: render the whole tree
        git.extract(commit.sha, ["."], tree)
        state = render_state(tree, config, (at,), refs=References(parsed=cache.references()), cache=cache)[site.name]
    images = tuple(sorted({c.image for c in matcher.by_model(site.name, state.containers).get(model.name, [])}))
    return State(commit.sha, images, pin, record, state.error, commit.date, commit.author)
