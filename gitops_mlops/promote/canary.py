"""Model canaries: a promotion that gives the new model a share of a Serverless InferenceService's traffic.

``promote … --canary P`` (1–99) pins the new storageUri with ``canaryTrafficPercent: P``: KServe
sends P % of the requests to the new revision and the rest to the previous one (the last that ran
with 100 %). ``--canary 100`` (or ``--finish-canary``) takes the percentage away: the new revision
gets all the traffic; it finishes the canary of the build the site runs (another build: exit 3). A promotion without ``--canary`` that changes the storageUri takes it away too
(a full rollout), and one that does not change it leaves a canary as it is. ``rollback`` during a
canary restores the storageUri and sets the percentage to 0 (``pins.canary.rolled_back``).

KServe splits traffic only in Serverless (Knative) mode: a canary at a site whose InferenceService
renders as RawDeployment (``Standard``) or ModelMesh is refused (exit 4, as any serving check of a
render); an InferenceService without the ``serving.kserve.io/deploymentMode`` annotation is in
KServe's default mode, Serverless (``render.serving.DEFAULT_MODE``). A canary needs an
InferenceService: an image model (a serving container) cannot take one (bad input).
"""

from __future__ import annotations

from gitops_mlops.config.load import Model
from gitops_mlops.config.rendering import DEPLOYMENT_MODES
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.pins.canary import set_canary
from gitops_mlops.render.serving import DEFAULT_MODE, MODE_ANNOTATION
from gitops_mlops.render.state import Container, ModelMatcher, SiteRender

FINISH = 100  # --finish-canary: the new revision takes all the traffic


def from_options(percent: int | None, finish: bool) -> int | None:
    """The request's percentage from ``--canary P`` and ``--finish-canary`` (both at once: bad input)."""
    if finish and percent is not None:
        raise InputError("--canary and --finish-canary do not go together: --finish-canary is --canary 100")
    return FINISH if finish else percent


def describe(percent: int) -> str:
    """What a canary promotion did to the traffic, for the changed sites."""
    if percent >= FINISH:
        return "canary finished: the new model takes all the traffic (canaryTrafficPercent removed)"
    return f"canary: the new model takes {percent} % of the traffic, the previous revision keeps {FINISH - percent} % (canaryTrafficPercent: {percent})"


def check_request(model: Model, percent: int | None) -> None:
    """A percentage from 1 to 100, for a model served by an InferenceService (bad input otherwise)."""
    if percent is None:
        return
    if not 1 <= percent <= FINISH:
        raise InputError(f"--canary {percent}: the new model's share of the traffic is a whole number from 1 to 100")
    if model.artifact != "modelcar":
        raise InputError(
            f"--canary: {model.name} is an image model (a serving container); a canary splits the traffic of a KServe InferenceService, which only a modelcar model has"
        )


def wants_change(percent: int | None, containers: list[Container]) -> bool:
    """Whether a site already running the promoted digest still needs its percentage changed."""
    if percent is None:
        return False
    return any(c.canary != ("" if percent == FINISH else str(percent)) for c in containers)


def check_site(site: str, percent: int | None, containers: list[Container], runs: bool) -> None:
    """Refuse a canary where KServe cannot split the traffic (an InferenceService not in Serverless mode), and
    a finish where the site does not run the build (``runs``): it finishes the canary of that build only."""
    if percent is None:
        return
    if percent == FINISH and not runs and containers:
        raise PolicyError(
            f"site {site}: --finish-canary finishes the canary of the build the site runs ({containers[0].image}), not another; "
            "promote without --canary for a full rollout of it"
        )
    for container in containers:
        mode = container.mode or DEFAULT_MODE
        if DEPLOYMENT_MODES.get(mode, mode) != "Serverless":
            raise RenderError(
                f"site {site}: {container.resource} is in {mode} mode ({MODE_ANNOTATION}); KServe splits traffic between revisions only in Serverless mode: "
                "promote it without --canary"
            )


def edit(text: str, source: str, pin_name: str, model: Model, percent: int | None) -> str:
    """``text`` with the percentage the promotion leaves: P for a canary, none once finished or fully rolled out."""
    if model.artifact != "modelcar" or (percent is None and "canaryTrafficPercent" not in text):
        return text
    return set_canary(text, source, pin_name, percent if percent is not None and percent < FINISH else None)


def rendered_percent(containers: list[Container]) -> int | None:
    """The canaryTrafficPercent the site renders for the model (None: none, the latest revision takes all)."""
    found = {c.canary for c in containers if c.canary}
    return int(next(iter(found))) if len(found) == 1 and next(iter(found)).isdigit() else None


def check_rendered(config, model: Model, after: dict[str, SiteRender], sites: list[str], percent: int | None) -> None:
    """After the edit, each changed site renders the percentage the promotion meant (exit 4 when something else sets it)."""
    if model.artifact != "modelcar":
        return
    want = "" if percent is None or percent >= FINISH else str(percent)
    matcher = ModelMatcher(config)
    for site in sites:
        for container in matcher.by_model(site, after[site].containers).get(model.name, []):
            if container.canary != want:
                shown = f"canaryTrafficPercent {container.canary}" if container.canary else "no canaryTrafficPercent"
                meant = f"canaryTrafficPercent {want}" if want else "none"
                raise RenderError(
                    f"site {site}: after the edit {container.resource} renders {shown}, not {meant}: it is set outside this site's storageUri patch; nothing changed"
                )
