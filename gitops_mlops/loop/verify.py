"""Verify a model in production: run each selected site's checks against the digest the site renders.

Sites are grouped by stage: each check is one PromQL query per stage and measurement (per
stage and build when the query names ``{{args.digest}}`` or ``{{args.version}}``), its series
told apart by the site label, never one query per site. A check's
measurements follow its ``initialDelay``, ``interval`` and ``count``; all checks of a run are
measured on one timeline. Per site and check the verdict is ``error`` when monitoring failed,
``failed`` when more measurements failed than ``failureLimit`` allows, ``inconclusive`` when
more were inconclusive (no series for the site, or neither condition decided) than
``inconclusiveLimit`` allows, else ``successful``. Verdicts are recorded in Git
(``verifications.py``); errors are not verifications and are not recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitops_mlops.config import checks as checklib
from gitops_mlops.config.checks import Check
from gitops_mlops.config.load import Config, Model, load_config
from gitops_mlops.config.sites import Site, discover_sites, select
from gitops_mlops.core import settings
from gitops_mlops.core.errors import InputError, MonitoringError
from gitops_mlops.core.names import NAME_RE
from gitops_mlops.gitstore import verifications
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.loop.prometheus import Client, Sample
from gitops_mlops.render.kustomize import split_documents
from gitops_mlops.render.schemas import load_object
from gitops_mlops.render.state import ModelMatcher, render_state

ORDER = ("successful", "inconclusive", "failed", "error")  # worst last


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: str
    values: tuple[float, ...]  # the last measurement's values for the site
    condition: str  # as configured
    phases: tuple[str, ...]  # each measurement's outcome
    message: str = ""
    action: str = "none"

    def as_json(self) -> dict:
        values = [v if v == v else "NaN" for v in self.values]  # JSON has no NaN
        return {
            "name": self.check,
            "verdict": self.verdict,
            "values": values,
            "condition": self.condition,
            "phases": list(self.phases),
            "message": self.message,
        }


@dataclass(frozen=True)
class SiteResult:
    site: str
    stage: str
    digest: str
    version: str
    namespace: str
    checks: tuple[CheckResult, ...] = ()
    image: str = ""  # the full reference the site renders

    @property
    def verdict(self) -> str:
        return max((c.verdict for c in self.checks), key=ORDER.index, default="successful")

    def as_json(self) -> dict:
        return {
            "site": self.site,
            "stage": self.stage,
            "version": self.version or None,
            "digest": self.digest,
            "image": self.image or None,
            "verdict": self.verdict,
            "checks": [c.as_json() for c in self.checks],
        }


@dataclass(frozen=True)
class VerifyReport:
    model: str
    sites: tuple[SiteResult, ...]
    requests: int
    recorded: str | None = None
    pushed: bool = False
    errors: tuple[str, ...] = field(default=())  # what monitoring answered when it failed

    @property
    def verdict(self) -> str:
        return max((s.verdict for s in self.sites), key=ORDER.index, default="successful")


@dataclass
class _Group:
    stage: str
    digest: str
    version: str
    namespace: str
    sites: list[Site]
    image: str = ""


@dataclass(frozen=True)
class Run:
    """How a verification runs: whether its verdicts are recorded in Git (and pushed), the monitoring
    client (one per run when None), and its timeline (``sleep`` waits; each query is evaluated at ``clock()``)."""

    record: bool = True
    push: bool = False
    client: Client | None = field(default=None, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)


def verify(repo_dir: Path, model_name: str, selectors: tuple[str, ...], run: Run = Run()) -> VerifyReport:
    """Each selected site's checks, measured on one timeline."""
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    model = config.model(model_name)
    groups = groups_for(repo_dir, config, model, select(discover_sites(repo_dir, config), selectors))
    git = GitRepo(repo_dir)
    if run.record:
        git.check_identity()  # before the measurements: a run of minutes must not end in 'who are you?'
    return measure(git, config, model, groups, run)


def groups_for(repo_dir: Path, config: Config, model: Model, targets: tuple[Site, ...]) -> list[_Group]:
    """The selected sites rendering ``model``, grouped by stage and digest; bad input (no site renders it,
    a stage without checks) fails here, before any query."""
    groups = _groups(repo_dir, config, model, targets)
    without = sorted({g.stage for g in groups if not config.checks_for(model, g.stage)})
    if without:
        raise InputError(f"model {model.name}: no checks configured for stage {', '.join(without)} (stages[].checks or models[].checks)")
    return groups


def measure(git: GitRepo, config: Config, model: Model, groups: list[_Group], run: Run) -> VerifyReport:
    """Measure ``groups`` (from ``groups_for``) with ``run.client`` and record the verdicts (not the errors) in Git."""
    client = run.client or Client()
    before = client.requests
    results, errors = _measure(config, model, groups, client, run.sleep, run.clock)
    report = VerifyReport(model.name, tuple(results), client.requests - before, errors=tuple(errors))
    recordable = [r for r in results if r.verdict != "error"]
    if run.record and recordable:
        now = settings.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        source = git.head() or ""
        entries = [
            verifications.Verification(model.name, r.site, r.stage, r.digest, r.version, r.verdict, tuple(c.as_json() for c in r.checks), now, source)
            for r in recordable
        ]
        sha, pushed = verifications.record(git, config, model.name, entries, run.push)
        report = replace(report, recorded=sha, pushed=pushed)
    return report


def _groups(repo_dir: Path, config: Config, model: Model, targets: tuple[Site, ...]) -> list[_Group]:
    """The selected sites that render the model, grouped by stage and the digest they render."""
    state = render_state(repo_dir, config, targets, outputs=True)
    matcher = ModelMatcher(config)
    groups: dict[tuple[str, str], _Group] = {}
    for site in targets:
        rendered = state[site.name]
        if not rendered.ok:
            raise InputError(f"site {site.name}: cannot verify a site that does not render: {rendered.error}")
        containers = matcher.by_model(site.name, rendered.containers).get(model.name, [])
        if not containers:
            continue
        first = containers[0]
        group = groups.get((site.stage, first.digest))
        if group is None:  # the namespace is read from the first site's render of each group
            namespace = _namespace(rendered.output or "", first.resource)
            if namespace and not NAME_RE.match(namespace):  # it goes into queries: only a Kubernetes name
                raise InputError(f"site {site.name}: {first.resource} has namespace {namespace!r}, which is not a Kubernetes name (DNS-1123 label)")
            group = groups[(site.stage, first.digest)] = _Group(site.stage, first.digest, first.tag, namespace, [], first.image)
        group.sites.append(site)
    if not groups:
        raise InputError(f"model {model.name}: no selected site renders it ({', '.join(_some(targets))})")
    return list(groups.values())


def _some(sites: tuple[Site, ...]) -> list[str]:
    names = [s.name for s in sites]
    return names[:3] + ([f"and {len(names) - 3} more"] if len(names) > 3 else [])


def _namespace(output: str, resource: str) -> str:
    kind, _, name = resource.partition("/")
    for doc in split_documents(output):
        if f"kind: {kind}" in doc and f"name: {name}" in doc:
            obj = load_object(doc)
            if isinstance(obj, dict) and obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
                return str((obj.get("metadata") or {}).get("namespace") or "")
    return ""


def _site_regex(sites: list[Site]) -> str:
    """A regex matching each site by its name or its last path component (escaped for the query by render_query)."""
    names = sorted({n for s in sites for n in (s.name, s.name.rsplit("/", 1)[-1])})
    return "|".join(n.replace(".", "\\.") for n in names)


def _measure(config: Config, model: Model, groups: list[_Group], client: Client, sleep, clock) -> tuple[list[SiteResult], list[str]]:
    by_stage: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        by_stage.setdefault(group.stage, []).append(index)
    events = []  # (offset in seconds, the groups one query serves, check)
    for stage, indices in by_stage.items():
        for check in config.checks_for(model, stage):
            batches = [(i,) for i in indices] if checklib.uses_build(check.query) else [tuple(indices)]
            events += [(check.initial_delay + i * check.interval, batch, check) for batch in batches for i in range(check.count)]
    events.sort(key=lambda e: e[0])
    phases: dict[tuple[int, str, str], list[tuple[str, tuple[float, ...], str]]] = {}  # (group, check, site) -> measurements
    errors: list[str] = []
    start = time.monotonic()
    for offset, batch, check in events:
        wait = start + offset - time.monotonic()
        if wait > 0:
            sleep(wait)
        first = groups[batch[0]]
        sites = [(i, site) for i in batch for site in groups[i].sites]
        args = {
            "model": model.name,
            "version": first.version,
            "digest": first.digest,
            "site": _site_regex([site for _, site in sites]),
            "stage": first.stage,
            "namespace": first.namespace,
        }
        try:
            samples = client.query(check.provider, checklib.render_query(check.query, args), at=clock())
        except MonitoringError as exc:
            errors.append(f"check {check.name}: {exc}")
            for index, site in sites:
                phases.setdefault((index, check.name, site.name), []).append(("error", (), str(exc)))
            continue
        by_site = _by_site(samples, check)
        for index, site in sites:
            values = tuple(by_site.get(site.name, ())) or tuple(by_site.get(site.name.rsplit("/", 1)[-1], ())) or by_site.get(None, ())
            phases.setdefault((index, check.name, site.name), []).append(_phase(check, values))
    results = []
    for index, group in enumerate(groups):
        for site in group.sites:
            found = tuple(_verdict(check, phases.get((index, check.name, site.name), [])) for check in config.checks_for(model, group.stage))
            results.append(SiteResult(site.name, group.stage, group.digest, group.version, group.namespace, found, group.image))
    return results, list(dict.fromkeys(errors))


def _by_site(samples: list[Sample], check: Check) -> dict[str | None, list[float] | tuple[float, ...]]:
    """The values of each site label (a site is found by its name or its last path component); a lone
    sample without labels (a scalar) under None, for every site."""
    out: dict[str | None, list[float] | tuple[float, ...]] = {}
    for sample in samples:
        out.setdefault(sample.label(check.site_label), []).append(sample.value)
    if len(samples) == 1 and not samples[0].labels:
        out[None] = (samples[0].value,)
    else:
        out.pop(None, None)
    return out


def _phase(check: Check, values: tuple[float, ...]) -> tuple[str, tuple[float, ...], str]:
    if not values:
        return "inconclusive", values, f"no series with {check.site_label}=<site>"
    try:
        if check.success_condition and checklib.evaluate(check.success_condition, list(values)):
            return "successful", values, ""
        if check.failure_condition and checklib.evaluate(check.failure_condition, list(values)):
            return "failed", values, ""
    except ValueError as exc:
        return "inconclusive", values, f"the condition could not be decided: {exc}"
    if check.success_condition and check.failure_condition:
        return "inconclusive", values, "neither condition holds"
    return ("failed" if check.success_condition else "successful"), values, ""


def _verdict(check: Check, measured: list[tuple[str, tuple[float, ...], str]]) -> CheckResult:
    phases = tuple(p for p, _, _ in measured)
    values = measured[-1][1] if measured else ()
    message = next((m for p, _, m in reversed(measured) if m), "")
    if "error" in phases:
        verdict = "error"
    elif phases.count("failed") > check.failure_limit:
        verdict = "failed"
    elif phases.count("inconclusive") > check.inconclusive_limit:
        verdict = "inconclusive"
    else:
        verdict = "successful"
    condition = " and ".join(
        filter(
            None,
            (
                f"success: {check.success_condition}" if check.success_condition else "",
                f"failure: {check.failure_condition}" if check.failure_condition else "",
            ),
        )
    )
    return CheckResult(check.name, verdict, values, condition, phases, message if verdict != "successful" else "", check.action)
