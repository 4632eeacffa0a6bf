"""Promotion policy: the image belongs to the model, stage order, no silent downgrade, holds."""

from __future__ import annotations

import semver

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.core.imageref import ImageRef, canonical_registry, parse_repository


def parse_version(text: str, what: str = "version") -> semver.Version:
    """A semantic version; a leading 'v' is accepted (v1.4.0)."""
    candidate = text[1:] if text[:1] in "vV" else text
    try:
        return semver.Version.parse(candidate)
    except (ValueError, TypeError):
        raise InputError(f"{what} {text!r} is not a semantic version (X.Y.Z)") from None


def promotion_version(image: ImageRef, version: str | None) -> str:
    """``--version`` if given, else the image tag when it is semver; else an error."""
    if version is not None:
        parse_version(version, "--version")
        if image.tag and image.tag != version and _is_semver(image.tag):
            raise InputError(f"--version {version} disagrees with the image tag {image.tag!r}")
        return version
    if image.tag and _is_semver(image.tag):
        return image.tag
    if image.tag:
        raise InputError(f"image tag {image.tag!r} is not a semantic version; pass --version X.Y.Z")
    raise InputError(f"image {image} has no tag and no site pins its digest with a version; pass --version X.Y.Z")


def _is_semver(text: str) -> bool:
    try:
        parse_version(text)
        return True
    except InputError:
        return False


def check_image(config: Config, model: Model, image: ImageRef) -> None:
    """The image must be the model's repository, from an allowed registry, pinned by digest."""
    check_source(config, model, image)
    if not image.digest:
        raise InputError(f"image {image} has no digest; pass IMAGE@sha256:<digest> (a tag alone is never deployed)")


def check_source(config: Config, model: Model, image: ImageRef) -> None:
    """The image must be the model's repository, from an allowed registry (checked before any registry is contacted)."""
    expected = parse_repository(model.repository)
    if image.canonical != expected.canonical:
        raise PolicyError(f"image repository {image.repository} is not model {model.name}'s repository {expected.repository}")
    allowed = config.policy.allowed_registries
    if allowed and canonical_registry(image.registry) not in {canonical_registry(host) for host in allowed}:
        raise PolicyError(f"registry {image.registry} is not allowed by policy.allowedRegistries ({', '.join(allowed)})")


def check_stage_order(
    config: Config,
    model: Model,
    digest: str,
    targets: tuple[Site, ...],
    rendered: dict[str, set[str]],
    all_sites: tuple[Site, ...],
    failed: dict[str, str] | None = None,
) -> None:
    """A site of stage N takes ``digest`` only when every site of the earlier stages that renders
    the model renders it (``rendered``: site -> the model's digests in its render before this
    promotion, pinned or not). Earlier-stage sites in the same promotion do not count as done.
    An earlier site that cannot render (``failed``: site -> why) may run the model: the gate
    cannot pass, and says the site cannot render, with kustomize's error."""
    last = max(targets, key=lambda s: config.stage_index(s.stage))
    before = config.stage_index(last.stage)
    earlier = [s.name for s in all_sites if config.stage_index(s.stage) < before]
    behind = [name for name in earlier if rendered.get(name) and rendered[name] != {digest}]
    broken = [f"{name} ({failed[name]})" for name in earlier if failed and name in failed]
    unknown = f"cannot render: {_shown(broken)}" if broken else ""
    if behind:
        raise PolicyError(
            f"stage order: {last.stage} needs every site of the earlier stages that runs {model.name} to run {digest[:19]} first; "
            f"not yet: {_shown(behind)}{'; ' + unknown if unknown else ''} (use --force-order to override)"
        )
    if broken:
        raise RenderError(
            f"stage order: {last.stage} needs every site of the earlier stages that runs {model.name} to run {digest[:19]} first, "
            f"and it cannot tell what these run: {unknown} (fix the site, or use --force-order to override)"
        )


def _shown(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def check_verified(
    config: Config,
    model: Model,
    digest: str,
    targets: tuple[Site, ...],
    rendered: dict[str, set[str]],
    all_sites: tuple[Site, ...],
    verified: dict[str, tuple[str, str]],
) -> None:
    """A stage with ``requireVerified`` takes ``digest`` only when every site of the stage before it that
    renders the model has a successful verification of that digest (``verified``: site -> (digest, verdict)
    of its latest verification)."""
    order = [s.name for s in config.stages]
    for stage in dict.fromkeys(s.stage for s in targets):
        spec = next((s for s in config.stages if s.name == stage), None)
        index = order.index(stage) if stage in order else 0
        if spec is None or not spec.require_verified or index == 0:
            continue
        previous = order[index - 1]
        missing = [s.name for s in all_sites if s.stage == previous and rendered.get(s.name) and verified.get(s.name) != (digest, "successful")]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise PolicyError(
                f"stage {stage} requires verified builds: {model.name}@{digest[:19]} has no successful verification at {shown} "
                f"(run: gitops-mlops verify {model.name} --site {previous} --push; or --force-order)"
            )


def check_downgrade(model: Model, version: str, current: dict[str, str], targets: tuple[Site, ...]) -> None:
    """``current``: site -> the version it renders now (the rendered tag, else the pin's newTag)."""
    new = parse_version(version)
    for site in targets:
        running = current.get(site.name)
        if not running or not _is_semver(running):
            continue
        if new < parse_version(running):
            raise PolicyError(f"downgrade refused: {site.name} runs {model.name} {running}, newer than {version} (use --allow-downgrade)")


def check_holds(config: Config, model: Model, digest: str, targets: tuple[Site, ...]) -> None:
    names = {site.name for site in targets}
    for hold in config.holds:
        if hold.model == model.name and hold.digest == digest and hold.site in names:
            why = f" ({hold.reason})" if hold.reason else ""
            raise PolicyError(
                f"{model.name}@{digest[:19]} is on hold at {hold.site} after a rollback{why}; "
                f"use --force, or lift it: gitops-mlops release-hold {model.name} --site {hold.site} --digest {digest}"
            )


def check_alone(config: Config, model: Model, member_only: bool) -> None:
    """A member of a release moves with the others (``promote --release``); alone only when asked (``--member-only``)."""
    release = config.release_of(model.name)
    if release is not None and not member_only:
        others = ", ".join(m for m in release.members if m != model.name)
        raise PolicyError(
            f"{model.name} is a member of release {release.name!r} (with {others}): promote them together "
            f"(promote --release {release.name} {model.name}=IMAGE ...), or pass --member-only to move it alone"
        )
