"""Planning a promotion: from a request and what each site renders now, the pin edits to make.

Nothing is written by a plan; the edits it returns are checked here as text, on the example repository
and on repositories as found (a base that sets the image, an overlay that renames it)."""

from __future__ import annotations

import pytest

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.pins.kustomization import parse
from gitops_mlops.promote.plan import plan_promotion, resolve_intent
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import one_model_repo, pin_at, ship, tree_snapshot

FRAUD = "quay.io/example/fraud-detector"
DEMAND = "quay.io/example/demand-forecast"


def plan(repo, image: str, *selectors: str, model: str = "fraud-detector", **kw):
    request = PromoteRequest(model=model, image=image, selectors=selectors, **kw)
    return plan_promotion(repo.work, resolve_intent(repo.work, request), request)


def test_a_plan_edits_each_target_pin_and_writes_nothing(gitops_repo):
    before = tree_snapshot(gitops_repo.work)
    old = pin_at(gitops_repo, "datacenter")
    made = plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "datacenter")
    (change,) = made.changes
    assert (change.site, change.file, change.stage) == ("datacenter", "overlays/datacenter/kustomization.yaml", "datacenter")
    assert (change.old, change.new_version, change.new_digest) == (old, "1.4.0", DIGEST_B)
    assert change.before == gitops_repo.read(change.file)
    pinned = parse(change.after, change.file).pin("InferenceService/fraud-detector")
    assert (pinned.new_name, pinned.new_tag, pinned.digest) == (FRAUD, "1.4.0", DIGEST_B)
    assert [e.file for e in made.files()] == [change.file]
    assert tree_snapshot(gitops_repo.work) == before


def test_a_site_already_rendering_the_digest_is_unchanged(gitops_repo):
    current = pin_at(gitops_repo, "datacenter")
    made = plan(gitops_repo, f"{FRAUD}:{current.new_tag}@{current.digest}", "datacenter")
    assert made.changes == () and made.unchanged == ("datacenter",)


def test_a_stage_selector_plans_every_site_of_it_once_the_gate_is_open(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    made = plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "edge")
    assert [c.site for c in made.changes] == ["edge/austin-01", "edge/berlin-01", "edge/singapore-01"]


def test_the_stage_gate_is_judged_on_renders_and_force_order_skips_it(gitops_repo):
    with pytest.raises(PolicyError, match="stage order: cloud needs .* not yet: datacenter"):
        plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "cloud")
    assert [c.site for c in plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "cloud", force_order=True).changes] == ["cloud"]


def test_a_downgrade_is_refused_unless_allowed(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    with pytest.raises(PolicyError, match="downgrade refused: datacenter runs fraud-detector 1.4.0, newer than 1.2.0"):
        plan(gitops_repo, f"{FRAUD}:1.2.0@{DIGEST_A}", "datacenter")
    assert plan(gitops_repo, f"{FRAUD}:1.2.0@{DIGEST_A}", "datacenter", allow_downgrade=True).changes[0].new_version == "1.2.0"


def test_a_held_digest_is_refused_unless_forced(gitops_repo):
    path = gitops_repo.work / "gitops-mlops.yaml"
    path.write_text(path.read_text().replace("holds: []", f"holds:\n  - model: fraud-detector\n    site: datacenter\n    digest: {DIGEST_B}"))
    with pytest.raises(PolicyError, match="on hold at datacenter"):
        plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "datacenter")
    assert plan(gitops_repo, f"{FRAUD}:1.4.0@{DIGEST_B}", "datacenter", force_hold=True).changes


@pytest.mark.parametrize(
    ("model", "image", "selectors", "error", "words"),
    [
        ("fraud-detectr", f"{FRAUD}:1.4.0@{DIGEST_B}", ("datacenter",), InputError, "did you mean 'fraud-detector'"),
        ("fraud-detector", f"{FRAUD}:1.4.0@{DIGEST_B}", ("nowhere",), InputError, "nowhere"),
        ("fraud-detector", f"{DEMAND}:1.4.0@{DIGEST_B}", ("datacenter",), PolicyError, "is not model fraud-detector's repository"),
        ("fraud-detector", f"{FRAUD}:latest@{DIGEST_B}", ("datacenter",), InputError, "not a semantic version"),
    ],
)
def test_a_bad_request_fails_before_anything_renders(gitops_repo, model, image, selectors, error, words):
    with pytest.raises(error, match=words):
        resolve_intent(gitops_repo.work, PromoteRequest(model=model, image=image, selectors=selectors))


def test_a_digest_without_a_tag_takes_the_version_a_site_pins_it_as(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    intent = resolve_intent(gitops_repo.work, PromoteRequest(model="fraud-detector", image=f"{FRAUD}@{DIGEST_B}", selectors=("cloud",)))
    assert intent.version == "1.4.0" and intent.tag == "1.4.0"


def test_the_pin_edited_is_the_one_that_reaches_the_workload(tmp_path):
    """The base runs the image by its real name (no placeholder): the site pins that name."""
    repo = one_model_repo(tmp_path, "docker.io/acme/app:1.0.0", "docker.io/acme/app")
    request = PromoteRequest(model="app", image=f"docker.io/acme/app:1.1.0@{DIGEST_B}", selectors=("dev",))
    (change,) = plan_promotion(repo.work, resolve_intent(repo.work, request), request).changes
    assert change.pin_name == "docker.io/acme/app" and change.old is None
    assert change.old_image == "docker.io/acme/app:1.0.0"
    assert "- name: docker.io/acme/app\n" in change.after and DIGEST_B in change.after


def test_a_site_pinned_yet_rendering_otherwise_is_a_render_error(tmp_path):
    """The site's pin already says the digest, but a later patch sets the image: the pin does not reach it."""
    pins = f"images:\n  - name: app\n    newName: docker.io/acme/app\n    newTag: 1.1.0\n    digest: {DIGEST_B}\n"
    repo = one_model_repo(tmp_path, "app", "docker.io/acme/app", model_image="app", pins=pins)
    path = repo.work / "overlays/dev/kustomization.yaml"
    patch = (
        "patches:\n  - target: {kind: Deployment}\n    patch: '[{op: replace, path: /spec/template/spec/containers/0/image, value: docker.io/acme/app:0.9}]'\n"
    )
    path.write_text(path.read_text().replace("resources:\n  - ../../base\n", "resources:\n  - ../../base\n" + patch))
    with pytest.raises(RenderError, match="site dev: overlays/dev/kustomization.yaml already pins app"):
        plan(repo, f"docker.io/acme/app:1.1.0@{DIGEST_B}", "dev", model="app")
