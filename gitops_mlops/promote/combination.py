"""What a release's members render together at each site, and the policy on combinations.

A combination is, at one site, each member's rendered image (digest and version). The
stage gate reads combinations: a site of stage N takes a release's combination only when
every site of the earlier stages renders that same combination. Declared compatibility
(``requires:``) is judged on the combination each changed site renders once written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.releases import Release
from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import PolicyError, RenderError
from gitops_mlops.core.semrange import parse_range, parse_version
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.inputs import References
from gitops_mlops.render.state import ModelMatcher, SiteRender, render_state, split_image

Labelled = Callable[[Model, str], tuple[tuple[str, str], ...]]  # (model, image) -> what its image label requires (``labelrequires``)


@dataclass(frozen=True)
class Member:
    """One member at one site: its rendered image ('' when the site does not run it)."""

    model: str
    image: str = ""

    @property
    def digest(self) -> str:
        return split_image(self.image)[2] if self.image else ""

    @property
    def version(self) -> str:
        return split_image(self.image)[1] if self.image else ""


def combinations(
    repo_dir: Path,
    config: Config,
    models: tuple[str, ...],
    sites: tuple[Site, ...],
    cache: RenderCache | None = None,
    refs: References | None = None,
    have: dict[str, SiteRender] | None = None,
) -> dict[str, dict[str, Member]]:
    """site -> model -> what it renders for each of ``models`` (``have``: renders already made, reused);
    a site that cannot render is an error (exit 4)."""
    have = have or {}
    missing = tuple(s for s in sites if s.name not in have)
    renders = {s.name: have[s.name] for s in sites if s.name in have}
    if missing:
        renders |= render_state(repo_dir, config, missing, cache=cache, refs=refs)
    matcher = ModelMatcher(config)
    return {name: of_render(matcher, render, models) for name, render in renders.items()}


def of_render(matcher: ModelMatcher, render: SiteRender, models: tuple[str, ...]) -> dict[str, Member]:
    if not render.ok:
        raise RenderError(f"site {render.site} cannot render: {render.error}")
    found = matcher.by_model(render.site, render.containers)
    return {m: Member(m, sorted({c.image for c in found.get(m, [])})[0] if found.get(m) else "") for m in models}


def check_gate(
    repo_dir: Path,
    config: Config,
    release: Release,
    named: set[str],
    targets: tuple[Site, ...],
    all_sites: tuple[Site, ...],
    have: dict[str, SiteRender],
    cache: RenderCache | None = None,
    refs: References | None = None,
) -> None:
    """The members not named keep what each target runs: every site of an earlier stage that runs such a
    member must run the same digest of it (the named members pass each one's own gate, on its new digest)."""
    kept = tuple(m for m in release.members if m not in named)
    if not kept or not targets:
        return
    last = max(config.stage_index(s.stage) for s in targets)
    gated = {s.name for s in targets} | {s.name for s in all_sites if config.stage_index(s.stage) < last}
    now = combinations(repo_dir, config, kept, tuple(s for s in all_sites if s.name in gated), cache, refs, have)
    earlier_of: dict[int, list[Site]] = {}
    for target in targets:
        stage = config.stage_index(target.stage)
        if stage not in earlier_of:
            earlier_of[stage] = [s for s in all_sites if config.stage_index(s.stage) < stage]
        earlier = earlier_of[stage]
        for model in kept:
            want = now[target.name][model].digest
            behind = [s.name for s in earlier if now[s.name][model].digest and now[s.name][model].digest != want]
            if want and behind:
                raise PolicyError(
                    f"stage order: release {release.name}: {target.name} would run {model} {want[:19]} in the new combination, "
                    f"but earlier stages run another ({', '.join(behind[:5])}); a stage takes a combination only when every site "
                    f"of the earlier stages runs it: name {model}=IMAGE too, or use --force-order"
                )


def check_requires(config: Config, after: dict[str, dict[str, Member]], labelled: Labelled | None = None) -> None:
    """Refuse a combination a model's ``requires:`` (or, with ``labelled``, its image's label) rules out, naming the site and the pair."""
    for site, members in sorted(after.items()):
        for model in config.models:
            mine = members.get(model.name)
            if mine is None or not mine.image:
                continue
            label = labelled(model, mine.image) if labelled and model.requires_label else ()
            rules = [(o, t, "") for o, t in model.requires] + [(o, t, f" (image label {model.requires_label})") for o, t in label]
            for other, text, source in rules:
                theirs = members.get(other)
                if theirs is None or not theirs.image:
                    continue
                version = parse_version(theirs.version)
                if version is None or not parse_range(text).allows(version, prereleases=True):
                    raise PolicyError(
                        f"incompatible at {site}: {model.name} {mine.version or mine.digest[:19]} requires {other} {text[:80]!r}{'...' if len(text) > 80 else ''}{source}, "
                        f"and the site would run {other} {theirs.version or theirs.digest[:19]}"
                    )


def judged(config: Config) -> tuple[str, ...]:
    """The models whose versions the compatibility check reads: both sides of every requirement (none: nothing to judge);
    every model when one reads its requirements from an image label (the label may name any)."""
    if any(m.requires_label for m in config.models):
        return tuple(m.name for m in config.models)
    return tuple(dict.fromkeys(n for m in config.models if m.requires for n in (m.name, *(o for o, _ in m.requires))))


def check_release(config: Config, moves: list[tuple[str, tuple]], before: dict[str, SiteRender], labelled: Labelled | None = None) -> None:
    """The combination each changed site would render (its render before, with each moved model's new
    image) must meet every ``requires:`` (and requirement ``labelled`` reads). Nothing to judge when no model requires another."""
    models = judged(config)
    if not models or not any(model in models for model, changes in moves if changes):
        return
    matcher = ModelMatcher(config)
    after: dict[str, dict[str, Member]] = {}
    for model, changes in moves:
        for change in changes:
            if change.site not in after:
                after[change.site] = of_render(matcher, before[change.site], models)
            if model in models:
                after[change.site][model] = Member(model, change.new_image or f"{model}:{change.new_version}@{change.new_digest}")
    check_requires(config, after, labelled)


def check_plan(config: Config, model: str, changes, before: dict[str, SiteRender], labelled: Labelled | None = None) -> None:
    """One model's promotion: ``check_release`` of its changes alone."""
    check_release(config, [(model, changes)], before, labelled)
