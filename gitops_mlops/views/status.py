"""What runs where, from what kustomize renders for each site (cached by input content).

One row per (model, site) for every site whose render has the model: the rendered
version (the tag, else the pin's newTag) and digest, whether the site's own
kustomization pins it and where it is set (``pin``, or the file: the kustomization whose pin takes
effect, for a site that wraps the overlay or base pinning it; else the file naming the image), drift within its
stage, lag behind the stage before, holds, and the verdict of the site's latest
verification when it verified the digest the site runs now; for a modelcar in a canary, the traffic
split between its latest and previous revisions.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from gitops_mlops.config.load import Config, load_config
from gitops_mlops.config.scaffold import initial_digest
from gitops_mlops.config.sites import discover_sites, select, site_pin_fields
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.core.imageref import same_repository
from gitops_mlops.gitstore import trailers, verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.provenance import pin_set_in, where_set
from gitops_mlops.render.state import ModelMatcher, render_state, split_image
from gitops_mlops.views.rollouts import StageRollout, read_rollouts, waves_of_sites


class Row(NamedTuple):
    """Immutable like every domain value; a named tuple because status makes 100,000 of them for
    100 models x 1,000 sites, and a frozen dataclass's __init__ cost a sixth of a warm run."""

    model: str
    site: str
    stage: str
    image: str  # the full rendered reference
    digest: str  # '' when the site renders a tag without a digest
    version: str
    pinned: bool = True  # the site's own kustomization pins the model
    source: str = "pin"  # 'pin', or the file that sets the image
    drift: bool = False  # differs from what most sites of its stage run
    behind: bool = False  # its stage does not yet run what the previous stage runs
    hold: tuple[str, ...] = ()  # digests of the model on hold at this site
    verified: str = ""  # the latest verification's verdict of the digest it runs ('' when none)
    verified_at: str = ""
    mirrored: bool | None = None  # whether the site's mirror has the digest (None: no mirror, or not asked)
    placeholder: bool = False  # the digest ``init`` wrote: nothing released runs here yet
    registered_model: str = ""  # the model registry's RegisteredModel of the version it runs ('' when not promoted from it)
    model_version: str = ""  # that ModelVersion's id in the registry
    canary: int | None = None  # a modelcar's canaryTrafficPercent: the latest revision's share, the previous one has the rest
    wave: int = 0  # the wave of its stage the site is in (0: its stage has no waves)

    def as_json(self) -> dict:
        return {
            "site": self.site,
            "stage": self.stage,
            "model": self.model,
            "version": self.version,
            "digest": self.digest,
            "image": self.image,
            "pinned": self.pinned,
            "source": self.source,
            "drift": self.drift,
            "behind": self.behind,
            "hold": list(self.hold),
            "verification": {"verdict": self.verified, "at": self.verified_at} if self.verified else None,
            "mirrored": self.mirrored,
            "placeholder": self.placeholder,
            "registeredModel": self.registered_model or None,
            "modelVersion": self.model_version or None,
            "traffic": None if self.canary is None else {"latest": self.canary, "previous": 100 - self.canary},
            "wave": self.wave or None,
        }


@dataclass(frozen=True)
class StatusReport:
    rows: list[Row]
    errors: tuple[str, ...] = ()  # sites that did not render
    unread: tuple[str, ...] = ()  # sites whose pins could not be read (their rows are from the render)
    rollouts: tuple[StageRollout, ...] = ()  # where each rollout through a stage with waves stands


def read_status(repo_dir: Path, models: tuple[str, ...] = (), selectors: tuple[str, ...] = (), mirrors: bool = False) -> StatusReport:
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    chosen_models = [config.model(m) for m in models] if models else list(config.models)
    wanted = {m.name for m in chosen_models}
    sites = discover_sites(repo_dir, config)
    chosen_sites = select(sites, selectors) if selectors else sites
    holds: dict[tuple[str, str], tuple[str, ...]] = {}
    for hold in config.holds:
        holds[(hold.model, hold.site)] = (*holds.get((hold.model, hold.site), ()), hold.digest)
    refs = References()
    with RenderCache(repo_dir) as cache:
        state = render_state(repo_dir, config, chosen_sites, refs=refs, cache=cache)
    matcher = ModelMatcher(config)
    order = {m.name: i for i, m in enumerate(config.models)}
    placeholder = {m.name: initial_digest(m.name) for m in config.models}  # once, not per row
    errors, unread = [], []
    pin_files: dict = {}  # folder -> its kustomization's pins, read once for every site built on it
    with _collector_paused():  # some 200,000 acyclic objects: the cycle collector's passes find nothing
        rows = []
        counts: dict[tuple[str, str], Counter] = {}  # (model, stage) -> how many sites run each digest
        for site in chosen_sites:
            rendered = state[site.name]
            if not rendered.ok:
                errors.append(rendered.error)
                continue
            try:
                pins = {fields[0]: fields for fields in site_pin_fields(repo_dir, site)}
            except GitOpsError as exc:  # the render says what runs; only where it is pinned is unknown
                unread.append(str(exc))
                pins = {}
            seen, site_rows = set(), []
            for container in rendered.containers:
                repository, tag, digest = split_image(container.image)
                model, _ = matcher.model_of(site.name, repository)
                if model is None or model.name not in wanted or model.name in seen:
                    continue
                seen.add(model.name)
                site_rows.append(_row(repo_dir, site, container.image, model, pins, refs, pin_files, holds.get((model.name, site.name), ()), placeholder))
                if (
                    container.canary.isascii() and container.canary.isdigit() and len(container.canary) <= 3 and int(container.canary) <= 100
                ):  # a modelcar in a canary: the split KServe makes
                    site_rows[-1] = site_rows[-1]._replace(canary=int(container.canary))
                counter = counts.get((model.name, site.stage))
                if counter is None:
                    counter = counts[(model.name, site.stage)] = Counter()
                counter[digest] += 1
            if len(site_rows) > 1:
                site_rows.sort(key=lambda r: order[r.model])
            rows += site_rows
        rows = _annotate(repo_dir, config, rows, counts, chosen_models, chosen_sites if mirrors else None)
        rollouts = read_rollouts(repo_dir, config, chosen_models, chosen_sites, rows)
        if any(stage.waves for stage in config.stages):
            wave = waves_of_sites(config, chosen_models, chosen_sites)
            rows = [row._replace(wave=wave.get((row.model, row.site), 0)) for row in rows]
        return StatusReport(rows, tuple(errors), tuple(unread), tuple(rollouts))


def _row(repo_dir: Path, site, image: str, model, pins: dict, refs: References, pin_files: dict, hold: tuple[str, ...], placeholder: dict[str, str]) -> Row:
    """One model's row at one site: what runs there (``image``, as rendered) and where it is set."""
    repository, tag, digest = split_image(image)
    pin = _site_pin(pins, model.pin_name, repository, digest)
    effective = pin is not None and (pin[1] or pin[0]) == repository and (pin[3] or "") == digest
    source = (
        "pin"
        if effective
        else pin_set_in(repo_dir, site, refs, image, pin_files) or where_set(repo_dir, site, refs, (repository, model.image), kustomizations=True) or "?"
    )
    version = tag or (pin[2] if pin else "") or ""
    return Row(model.name, site.name, site.stage, image, digest, version, pin is not None, source, hold=hold, placeholder=digest == placeholder[model.name])


def _annotate(repo_dir: Path, config: Config, rows: list[Row], counts: dict, models: list, sites: list | None) -> list[Row]:
    """The rows with what the sites together tell: drift and lag within a stage, the latest verification, and
    (given ``sites``) whether each image is in the site's mirror."""
    marks = _marks(config, counts)
    if marks:  # rows that drift or lag are few: rebuild only those
        rows = [row._replace(drift=mark[0], behind=mark[1]) if (mark := marks.get((row.model, row.stage, row.digest))) else row for row in rows]
    checked = _verified(repo_dir, config, [m for m in models if any(s.checks for s in config.stages) or m.checks])
    if checked:
        rows = [
            row._replace(verified=v.verdict, verified_at=v.at) if (v := checked.get((row.model, row.site))) and v.digest == row.digest else row for row in rows
        ]
    if config.model_registry is not None:
        rows = _registered(repo_dir, rows)
    if sites is not None:
        from gitops_mlops.registry.mirrors import presence

        found = presence(config, rows, {s.name: s for s in sites})
        rows = [row._replace(mirrored=found[(row.model, row.site)]) if (row.model, row.site) in found else row for row in rows]
    return rows


def _registered(repo_dir: Path, rows: list[Row]) -> list[Row]:
    """Rows with the registered version each runs, from the trailers of the promotions from the model registry."""
    try:
        found = trailers.registered_digests(GitRepo(repo_dir))
    except GitOpsError:
        return rows
    return [row._replace(registered_model=hit[0], model_version=hit[1]) if (hit := found.get((row.model, row.digest))) else row for row in rows]


def _verified(repo_dir: Path, config: Config, models: list) -> dict[tuple[str, str], verifications.Verification]:
    """The latest recorded verification of each (model, site), from the verifications branch as it is here."""
    if not models:
        return {}
    try:
        git = GitRepo(repo_dir)
        return {(m.name, site): v for m in models for site, v in verifications.latest(verifications.read(git, config, m.name)).items()}
    except GitOpsError:
        return {}


@contextlib.contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _site_pin(pins: dict[str, tuple], pin_name: str, repository: str, digest: str) -> tuple | None:
    """The site's pin of a model whose render has ``repository``: of the model's pin name or of the
    name the image arrives with (the one writing this repository and digest, when both are there),
    else one that writes the repository over another spelling of it (``nginx`` with
    ``newName: docker.io/nginx``). Pin names are literal, as kustomize's are."""
    own = [f for f in (pins.get(pin_name), pins.get(repository)) if f is not None]
    if not own:
        own = [f for f in pins.values() if f[1] == repository and same_repository(f[0], repository)]
    return next((f for f in own if (f[1] or f[0]) == repository and (f[3] or "") == digest), own[0] if own else None)


def _marks(config: Config, counts: dict[tuple[str, str], Counter]) -> dict[tuple[str, str, str], tuple[bool, bool]]:
    """(drift, behind) of each (model, stage, digest) that drifts or is behind, from how many
    sites of each (model, stage) run each digest.

    Drift: the site differs from the most common digest of its stage (every site, on a tie).
    Behind: the site does not run what most sites of the closest earlier stage run."""
    common: dict[tuple[str, str], set[str]] = {}
    for key, counter in counts.items():
        top = max(counter.values())
        common[key] = {digest for digest, n in counter.items() if n == top}
    order = [s.name for s in config.stages]
    drift, behind = set(), set()
    for (model, stage), counter in counts.items():
        key = (model, stage)
        if len(counter) > 1:
            drift.update((model, stage, d) for d in counter if len(common[key]) > 1 or d not in common[key])
        earlier = [s for s in order[: order.index(stage)] if (model, s) in common] if stage in order else []
        previous = common[(model, earlier[-1])] if earlier else None
        if previous is not None and len(previous) == 1:
            behind.update((model, stage, d) for d in counter if d not in previous)
    return {key: (key in drift, key in behind) for key in drift | behind}
