"""Sites' earlier states, from their renders at earlier commits, read for a whole fleet at once.

A site's states are the commits on the first-parent line that touch its input files (its
overlay and every folder its build reads); the site is rendered at each, from those
folders as they were (cached by content like every render), so its history reaches back
before the tool's first commit and shows changes made by hand.

One history walk serves every site: one ``git log`` over the union of their folders,
with the files each commit changed, gives each site its commits. States are read in
batches: the kustomizations of every (site, commit) asked for in one git process, each
commit's folders extracted once, and every site needed at a commit rendered in one
``render_state`` call. Between two states of a site that differ only in its own
kustomization, the older's pin-invariant render serves the newer with its pin values
(``sentinels.py``), as it serves a promotion: a run of promotions renders once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import Site
from gitops_mlops.core import scratch, settings
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo, Trailered
from gitops_mlops.pins import kustomization
from gitops_mlops.pins.kustomization import Pin
from gitops_mlops.pins.sentinels import Forms, PinInvariant, leading_comments, may_read_through, pins_of_form
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References, site_closure, walk_references
from gitops_mlops.render.state import ModelMatcher, SiteRender, decode_containers, render_state, split_image

MAX_COMMITS = 1000
MANY_FOLDERS = 64  # more folders than this: git log is asked for their top-level folders


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
        return self.record is not None and self.record.action == "rollback" and self.record.model == model and site in self.record.site_set


@dataclass
class _Line:
    """One site's history: its commits (newest first) and the states read so far."""

    site: Site
    pin_name: str
    folders: tuple[str, ...]
    rel: str  # its kustomization file, as named now
    commits: list[Trailered] = field(default_factory=list)
    pin_only: list[bool] = field(default_factory=list)  # the commit changed nothing of its inputs but its kustomization
    written: list[str | None] = field(default_factory=list)  # the object id of its kustomization after the commit, when the commit changed it
    states: dict[int, State] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)
    objects: list[str | None] = field(default_factory=list)  # its kustomization at each commit, worked out from written (object_at)

    def group(self, index: int) -> int:
        """The oldest state whose inputs other than the kustomization are those of state ``index``."""
        if len(self.groups) != len(self.commits):
            self.groups = list(range(len(self.commits)))
            for at in range(len(self.commits) - 2, -1, -1):
                if self.pin_only[at]:
                    self.groups[at] = self.groups[at + 1]
        return self.groups[index]

    def object_at(self, index: int) -> str | None:
        """The object id of its kustomization at commit ``index`` ('' when there is none), from the newest
        commit at or before it that changed the file; None when no commit listed tells (read it by path).
        Exact because every first-parent commit that changes the file is listed, its folder being one of
        the site's (up to the limit, and an older commit than the listed ones is never asked for here)."""
        if len(self.objects) != len(self.commits):
            self.objects = [None] * len(self.commits)
            if self.rel.rpartition("/")[0] in self.folders:
                for at in range(len(self.commits) - 1, -1, -1):
                    known = self.written[at] if self.written[at] is not None else (self.objects[at + 1] if at + 1 < len(self.commits) else None)
                    self.objects[at] = "" if known is not None and not known.strip("0") else known
        return self.objects[index]


@dataclass(frozen=True)
class _Ask:
    line: _Line
    index: int
    text: str | None
    form: PinInvariant | None

    @property
    def sha(self) -> str:
        return self.line.commits[self.index].sha


class FleetHistory:
    """Every given site's states, newest first, from one history walk (use it in a ``with``)."""

    def __init__(
        self,
        repo_dir: Path,
        git: GitRepo,
        config: Config,
        model: Model,
        sites: list[tuple[Site, str]],
        cache: RenderCache,
        limit: int = MAX_COMMITS,
        refs: References | None = None,
        forms: Forms | None = None,
        piece: int | None = None,
    ) -> None:
        """``refs``: what rendering the sites now learned (their references checked), when they were;
        ``forms``: the pin-invariant forms rendering them now worked out, when it did; ``piece``: the
        walk read newest first in pieces of that many commits and more (``more``), only as far as
        asked, instead of all at once."""
        self.repo_dir, self.git, self.config, self.model, self.cache = Path(repo_dir).resolve(), git, config, model, cache
        self.matcher = ModelMatcher(config)
        checked = refs is not None
        refs = refs if refs is not None else References(parsed=cache.references())
        self.lines: dict[str, _Line] = {}
        for site, pin_name in sites:
            if not checked:
                walk_references(self.repo_dir, site, config.policy.remote_resources, refs)
            rel = site.file if site.file.rpartition("/")[0] == site.path else _kustomization_path(self.repo_dir, site)
            self.lines[site.name] = _Line(site, pin_name, tuple(site_closure(self.repo_dir, site, refs)), rel)
        self._limit, self._piece = limit, piece
        self._rest: tuple[str, int] | None = ("HEAD", 0)  # where the walk goes on (from a commit, past how many); None: read to its end
        self._prepare()
        self.more()
        self._forms: dict[tuple[str, int], tuple[str, str]] = {}  # (site, group) -> (invariant text, its render's containers)
        self.forms = forms if forms is not None else Forms()  # kustomizations that differ in pin values only are put in sentinel form once
        self._trees: dict[str, Path] = {}
        self._extracted: dict[str, set[str]] = {}
        self._records: dict[str, trailers.Record | None] = {}  # by commit: one commit is a state of many sites
        self._pins: dict[str, tuple[Pin, ...]] = {}  # by kustomization text, its leading comments left out
        self._by_form: dict[str, tuple[Pin, ...] | None] = {}  # by form text
        self._scratch = scratch.folder("history", settings.scratch_dir())

    def __enter__(self) -> FleetHistory:
        self._tmp = Path(self._scratch.__enter__())
        return self

    def __exit__(self, *exc) -> None:
        self._scratch.__exit__(*exc)

    def _prepare(self) -> None:
        """Which lines each changed directory belongs to, and what to ask ``git log`` for."""
        by_folder: dict[str, list[_Line]] = {}
        for line in self.lines.values():
            for folder in line.folders:
                by_folder.setdefault(folder, []).append(line)
        self._everywhere = by_folder.pop(".", [])
        self._paths = ["."] if self._everywhere else _pathspecs(sorted(by_folder))
        if not self._paths:
            self._rest = None
        owners: dict[str, list[_Line]] = {}  # a directory -> the sites whose folders hold it

        def owning(directory: str) -> list[_Line]:
            found = owners.get(directory)
            if found is None:
                parent = directory.rpartition("/")[0]
                found = owners[directory] = by_folder.get(directory, []) + (owning(parent) if parent else [])
            return found

        self._owning = owning

    def more(self) -> bool:
        """Read the next piece of the walk (all of it without pieces), each commit given to the sites it
        touches; False when it was read to its end already. A piece goes on from the oldest commit of the
        one before (``git log`` from it, past it): the same first-parent line, so the same commits."""
        if self._rest is None:
            return False
        (ref, skip), size = self._rest, self._piece
        commits = self.git.log_changes(ref, self._paths, limit=size, skip=skip)
        if size is None or len(commits) < size:
            self._rest = None
        else:
            self._rest, self._piece = (commits[-1][0].sha, 1), size * 4
        for commit, changed, objects in commits:
            touched: dict[str, tuple[_Line, list[str]]] = {line.site.name: (line, list(changed)) for line in self._everywhere}
            for path in changed:
                for line in self._owning(path.rpartition("/")[0]):
                    touched.setdefault(line.site.name, (line, []))[1].append(path)
            written = dict(zip(changed, objects, strict=True)) if touched else {}
            for line, paths in touched.values():
                if len(line.commits) < self._limit:
                    line.commits.append(commit)
                    line.pin_only.append(set(paths) == {line.rel})
                    line.written.append(written.get(line.rel))
        return True

    def walked(self, site: str) -> bool:
        """Whether every commit of the site's history is listed (``count`` is final)."""
        return self._rest is None or len(self.lines[site].commits) >= self._limit

    def seed(self, renders: dict[str, SiteRender], texts: dict[str, str]) -> None:
        """Take what the sites render now as their newest state, for the sites whose inputs have no
        change since the last commit (that state's render is the working tree's)."""
        lines = [line for name, line in self.lines.items() if line.commits and name in renders and renders[name].ok]
        dirty = set(self.git.dirty(sorted({folder for line in lines for folder in line.folders}))) if lines else set()
        asks = []
        for line in lines:
            if any(path == folder or path.startswith(f"{folder}/") or folder == "." for path in dirty for folder in line.folders):
                continue
            text = texts[line.site.name]
            asks.append(_Ask(line, 0, text, self.forms.of(text, line.site.path)))
        self._remember(asks, renders)
        for ask in asks:
            self._settle(ask, renders[ask.line.site.name])

    def count(self, site: str) -> int:
        return len(self.lines[site].commits)

    def states(self, wanted: dict[str, int]) -> dict[str, State]:
        """The state at index ``wanted[site]`` of each site (newest is 0), read in one batch."""
        asks = [(self.lines[name], index) for name, index in wanted.items() if index not in self.lines[name].states]
        self.read_states(asks)
        return {name: self.lines[name].states[index] for name, index in wanted.items()}

    def read_states(self, asks: list[tuple[_Line, int]]) -> None:
        if not asks:
            return
        specs = [_spec(line, index) for line, index in asks]
        texts = self.git.show_objects(sorted({spec for spec in specs if spec}))
        pending = []
        for (line, index), spec in zip(asks, specs, strict=True):
            text = texts.get(spec) if spec else None
            form = self.forms.of(text, line.site.path) if text is not None else None
            pending.append(_Ask(line, index, text, form))
        pending = [ask for ask in pending if not self._substituted(ask)]
        first: dict[tuple[str, int], _Ask] = {}
        for ask in pending:  # one render per run of pin-only changes; the rest of the run substitutes
            first.setdefault((ask.line.site.name, ask.line.group(ask.index)), ask)
        self._render(list(first.values()))
        self._render([ask for ask in pending if ask.index not in ask.line.states and not self._substituted(ask)])

    def _substituted(self, ask: _Ask) -> bool:
        """The state from the pin-invariant render of another state of its run, when there is one."""
        known = self._forms.get((ask.line.site.name, ask.line.group(ask.index)))
        if ask.form is None or known is None or known[0] != ask.form.text:
            return False
        containers = ask.form.substitute(known[1])
        self._settle(ask, SiteRender(ask.line.site.name, containers=decode_containers(containers)))
        return True

    def _settle(self, ask: _Ask, render: SiteRender) -> None:
        line, commit = ask.line, ask.line.commits[ask.index]
        pins = self._pins_of(ask.text, line.rel, ask.form) if ask.text is not None else ()
        pin = next((p for p in pins if p.name == line.pin_name), None)
        found = self.matcher.by_model(line.site.name, render.containers).get(self.model.name, [])
        images = tuple(sorted({c.image for c in found}))
        if commit.sha not in self._records:
            self._records[commit.sha] = trailers.read(commit, self.model.name) or trailers.read(commit)  # a release's commit: this model's block
        line.states[ask.index] = State(commit.sha, images, pin, self._records[commit.sha], render.error, commit.date, commit.author)

    def _pins_of(self, text: str, source: str, form: PinInvariant | None = None) -> tuple[Pin, ...]:
        """The pins of a kustomization text (none when it cannot be read), worked out once for texts that
        differ only in their leading comment lines (sites made from one template): comments hold no pin.
        A text with a pin-invariant form and no storageUri patch is read through the form: its form text is
        read once for all the texts of its shape (one site along its promotions), its values put back."""
        body = text[leading_comments(text) :]
        found = self._pins.get(body)
        if found is None:
            through = self._form_pins(form, source) if form is not None and may_read_through(text) else None
            found = self._pins[body] = pins_of_form(form, through) if through is not None else _read_pins(body, source)
        return found

    def _form_pins(self, form: PinInvariant, source: str) -> tuple[Pin, ...] | None:
        """The pins of a form text (None when it cannot be read: the text is read itself)."""
        if form.text not in self._by_form:
            self._by_form[form.text] = _read_pins(form.text, source) or None
        return self._by_form[form.text]

    def _render(self, asks: list[_Ask]) -> None:
        """Render ``asks`` from their commits' trees: each commit's folders extracted once, its sites in one call."""
        if not asks:
            return
        present = self.git.existing(sorted({f"{ask.sha}:{folder}" for ask in asks for folder in ask.line.folders}))
        by_commit: dict[str, list[_Ask]] = {}
        for ask in asks:
            by_commit.setdefault(ask.sha, []).append(ask)
        for sha, group in by_commit.items():
            there = {folder for ask in group for folder in ask.line.folders if f"{sha}:{folder}" in present}
            tree = self._tree(sha, sorted(there))
            sites = tuple(Site(a.line.site.name, a.line.site.path, a.line.site.stage) for a in group)
            renders = render_state(tree, self.config, sites, cache=self.cache, invariants=True, forms=self.forms)
            elsewhere = [a for a in group if not renders[a.line.site.name].ok and not all(f"{sha}:{f}" in present for f in a.line.folders)]
            if elsewhere:  # their inputs were elsewhere then: render them from the whole tree
                whole = self._tree(sha, ["."], whole=True)
                again = tuple(s for s in sites if s.name in {a.line.site.name for a in elsewhere})
                renders.update(render_state(whole, self.config, again, refs=References(parsed=self.cache.references()), cache=self.cache))
            self._remember(group, renders)
            for ask in group:
                self._settle(ask, renders[ask.line.site.name])

    def _tree(self, sha: str, paths: list[str], whole: bool = False) -> Path:
        """A folder holding ``paths`` as they were at ``sha``, each extracted once."""
        name = f"{sha}-all" if whole else sha
        tree = self._trees.setdefault(name, self._tmp / name)
        done = self._extracted.setdefault(name, set())
        missing = [p for p in paths if p not in done]
        if missing:
            tree.mkdir(exist_ok=True)
            self.git.extract(sha, missing, tree)
            done.update(missing)
        return tree

    def _remember(self, asks: list[_Ask], renders: dict[str, SiteRender]) -> None:
        """Keep the pin-invariant render of each state rendered, for the rest of its run."""
        keys = {a.line.site.name: renders[a.line.site.name].invariant for a in asks if a.form is not None and renders[a.line.site.name].invariant}
        entries = self.cache.entries(sorted(set(keys.values()))) if keys else {}
        for ask in asks:
            key = keys.get(ask.line.site.name)
            if key in entries:
                self._forms[(ask.line.site.name, ask.line.group(ask.index))] = (ask.form.text, entries[key].containers)


def _read_pins(text: str, source: str) -> tuple[Pin, ...]:
    try:
        return kustomization.pins(text, source)
    except GitOpsError:
        return ()


def _kustomization_path(repo_dir: Path, site: Site) -> str:
    """The site's kustomization file, relative to the repository (its usual name when it has none now)."""
    file = kustomization.find_kustomization_file(repo_dir / site.path)
    return f"{site.path}/{file.name if file else 'kustomization.yaml'}"


def _spec(line: _Line, index: int) -> str:
    """How ``git cat-file`` names the site's kustomization at commit ``index``: its object id when the
    listed commits tell it (no tree walked), else REV:PATH; '' when it had none."""
    known = line.object_at(index)
    return f"{line.commits[index].sha}:{line.rel}" if known is None else known


def _pathspecs(folders: list[str]) -> list[str]:
    """What to ask ``git log`` for: the folders, or for many (a fleet) their top-level folders, as
    thousands of pathspecs cost git more than the files it lists beyond them (each commit's changed
    files are matched to the sites' folders here either way)."""
    return folders if len(folders) <= MANY_FOLDERS else sorted({folder.split("/")[0] for folder in folders})


def site_states(
    repo_dir: Path, git: GitRepo, config: Config, model: Model, site: Site, pin_name: str, cache: RenderCache, limit: int = MAX_COMMITS
) -> Iterator[State]:
    """The site's states, newest first: one per commit touching its inputs, read in growing batches."""
    forms = Forms()
    with FleetHistory(repo_dir, git, config, model, [(site, pin_name)], cache, limit, forms=forms) as history:
        total, at, size = history.count(site.name), 0, 16
        file = kustomization.find_kustomization_file(history.repo_dir / site.path)
        if total and file is not None:  # its newest state is what it renders now, unless its inputs changed since
            now = render_state(history.repo_dir, config, (site,), cache=cache, invariants=True, forms=forms)
            history.seed(now, {site.name: file.read_text(encoding="utf-8", errors="replace")})
        while at < total:
            chunk = range(at, min(total, at + size))
            history.read_states([(history.lines[site.name], index) for index in chunk])
            for index in chunk:
                yield history.lines[site.name].states[index]
            at, size = chunk.stop, min(size * 4, 1024)
