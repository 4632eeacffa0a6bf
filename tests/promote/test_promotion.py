"""Promotion end to end on real git repositories (bare remote + clone) and the real kustomize."""

from __future__ import annotations

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.core.errors import GitError, InputError, PolicyError, RenderError
from gitops_mlops.pins.kustomization import parse
from gitops_mlops.promote.promotion import promote as _promote
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import tree_snapshot

REPO = "quay.io/example/fraud-detector"


PUBLISH = ("push", "branch", "dry_run", "remote", "target_branch")


def request(to=("datacenter",), tag="1.4.0", digest=DIGEST_B, **kw) -> tuple[Request, Publish]:
    options = Publish(**{k: kw.pop(k) for k in PUBLISH if k in kw})
    return Request(model="fraud-detector", image=f"{REPO}:{tag}@{digest}", selectors=tuple(to), **kw), options


def promote(repo, what, options: Publish = Publish()):
    """The library call, taking a (request, publish options) pair as request() makes them."""
    return _promote(repo, *what) if isinstance(what, tuple) else _promote(repo, what, options)


def pin(repo, site: str):
    path = f"overlays/{site}/kustomization.yaml"
    return parse(repo.read(path), path).pin("InferenceService/fraud-detector")


def trailers(repo, ref="HEAD") -> dict[str, str]:
    out = repo.git("log", "-1", "--format=%(trailers:only,unfold)", ref)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_promotion_pins_digest_and_version_in_one_commit(gitops_repo):
    before = gitops_repo.head()
    result = promote(gitops_repo.work, request())
    assert result.changed == ("datacenter",)
    assert gitops_repo.git("rev-parse", "HEAD~1").strip() == before
    assert gitops_repo.git("diff", "--name-only", "HEAD~1").split() == ["overlays/datacenter/kustomization.yaml"]
    p = pin(gitops_repo, "datacenter")
    assert (p.new_name, p.new_tag, p.digest) == (REPO, "1.4.0", DIGEST_B)
    assert trailers(gitops_repo) == {
        "Model": "fraud-detector",
        "Model-Version": "1.4.0",
        "Image": f"{REPO}:1.4.0@{DIGEST_B}",
        "Sites": "datacenter",
        "Action": "promote",
    }


def test_promotion_changes_only_the_pin_lines(gitops_repo):
    path = "overlays/datacenter/kustomization.yaml"
    old = gitops_repo.read(path).splitlines()
    promote(gitops_repo.work, request())
    new = gitops_repo.read(path).splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [f"value: oci://{REPO}:1.4.0@{DIGEST_B}"]  # a modelcar: its storageUri patch
    old = new
    digest = "sha256:" + "d" * 64
    promote(gitops_repo.work, Request(model="demand-forecast", image=f"quay.io/example/demand-forecast:1.4.0@{digest}", selectors=("datacenter",)))
    new = gitops_repo.read(path).splitlines()
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert [b.strip() for _, b in changed] == ["newTag: 1.4.0", f"digest: {digest}"]  # an image: its images entry


def test_promote_is_idempotent(gitops_repo):
    promote(gitops_repo.work, request())
    head = gitops_repo.head()
    again = promote(gitops_repo.work, request())
    assert again.changed == () and again.unchanged == ("datacenter",) and again.commit is None
    assert gitops_repo.head() == head


def test_many_sites_one_commit(gitops_repo):
    promote(gitops_repo.work, request(to=("datacenter",)))
    promote(gitops_repo.work, request(to=("cloud",)))
    before = gitops_repo.head()
    result = promote(gitops_repo.work, request(to=("edge",)))
    assert len(result.changed) == 3
    assert gitops_repo.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert trailers(gitops_repo)["Sites"] == ", ".join(result.changed)


def test_stage_order_refuses_cloud_before_datacenter(gitops_repo):
    snap = tree_snapshot(gitops_repo.work)
    with pytest.raises(PolicyError, match="datacenter"):
        promote(gitops_repo.work, request(to=("cloud",)))
    assert tree_snapshot(gitops_repo.work) == snap


def test_force_order_is_recorded(gitops_repo):
    promote(gitops_repo.work, request(to=("edge/berlin-01",), force_order=True))
    assert trailers(gitops_repo)["Forced"] == "true"


def test_downgrade_is_refused_unless_allowed(gitops_repo):
    promote(gitops_repo.work, request(tag="1.4.0"))
    with pytest.raises(PolicyError, match="downgrade"):
        promote(gitops_repo.work, request(tag="1.3.9", digest=DIGEST_C))
    result = promote(gitops_repo.work, request(tag="1.3.9", digest=DIGEST_C, allow_downgrade=True))
    assert result.changed == ("datacenter",)


def test_image_of_another_repository_is_refused(gitops_repo):
    bad = Request(model="fraud-detector", image=f"quay.io/example/fraud-detector-sidecar:1.4.0@{DIGEST_B}", selectors=("datacenter",))
    with pytest.raises(PolicyError, match="not model fraud-detector's repository"):
        promote(gitops_repo.work, bad)


def test_registry_outside_the_allow_list_is_refused(gitops_repo):
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text().replace("repository: quay.io/example/fraud-detector", "repository: ghcr.io/example/fraud-detector"))
    gitops_repo.git("commit", "-qam", "move registry")
    bad = Request(model="fraud-detector", image=f"ghcr.io/example/fraud-detector:1.4.0@{DIGEST_B}", selectors=("datacenter",))
    with pytest.raises(PolicyError, match="not allowed"):
        promote(gitops_repo.work, bad)


def test_version_must_come_from_flag_or_semver_tag(gitops_repo):
    with pytest.raises(InputError, match="--version"):
        promote(gitops_repo.work, Request(model="fraud-detector", image=f"{REPO}@{DIGEST_B}", selectors=("datacenter",)))
    result = promote(gitops_repo.work, Request(model="fraud-detector", image=f"{REPO}@{DIGEST_B}", selectors=("datacenter",), version="1.5.0"))
    assert pin(gitops_repo, "datacenter").new_tag == "1.5.0" and result.version == "1.5.0"


def test_dirty_site_is_refused_before_anything_is_written(gitops_repo):
    path = gitops_repo.work / "overlays/datacenter/kustomization.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    snap = tree_snapshot(gitops_repo.work)
    with pytest.raises(GitError, match="uncommitted changes"):
        promote(gitops_repo.work, request())
    assert tree_snapshot(gitops_repo.work) == snap


def break_datacenter_render(repo) -> None:
    """Commit a generator whose file is missing: the datacenter overlay no longer renders."""
    path = repo.work / "overlays/datacenter/kustomization.yaml"
    path.write_text(path.read_text() + "configMapGenerator:\n  - name: settings\n    files:\n      - missing-file.properties\n")
    repo.git("commit", "-qam", "a generator whose file is missing")


def test_failed_render_restores_every_file(gitops_repo):
    break_datacenter_render(gitops_repo)
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    with pytest.raises(RenderError, match="datacenter"):
        promote(gitops_repo.work, request())
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    assert gitops_repo.git("status", "--porcelain") == ""


def test_dry_run_prints_diff_and_changes_nothing(gitops_repo):
    snap = tree_snapshot(gitops_repo.work)
    result = promote(gitops_repo.work, request(dry_run=True))
    assert f"+        value: oci://{REPO}:1.4.0@{DIGEST_B}" in result.diff  # fraud-detector is a modelcar
    assert result.commit is None and tree_snapshot(gitops_repo.work) == snap


def test_new_pin_is_added_when_a_site_lacks_it(gitops_repo):
    path = gitops_repo.work / "overlays/datacenter/kustomization.yaml"
    text = path.read_text()
    start = text.index("  # Modelcar pins")
    end = text.index("# Image pins")
    path.write_text(text[:start] + text[end:])
    gitops_repo.git("commit", "-qam", "drop the pin")
    promote(gitops_repo.work, request())  # the base's placeholder storageUri renders: the patch is added
    assert pin(gitops_repo, "datacenter").digest == DIGEST_B
    assert gitops_repo.read("overlays/datacenter/kustomization.yaml").count("path: /spec/predictor/model/storageUri") == 1


def test_changes_staged_elsewhere_stay_out_of_the_promotion_commit(gitops_repo):
    readme = gitops_repo.work / "NOTES.md"
    readme.write_text("work in progress\n")
    gitops_repo.git("add", "NOTES.md")
    promote(gitops_repo.work, request())
    assert gitops_repo.git("show", "--name-only", "--format=", "HEAD").split() == ["overlays/datacenter/kustomization.yaml"]
    assert gitops_repo.git("diff", "--cached", "--name-only").split() == ["NOTES.md"]


def test_a_large_promotion_is_one_commit_and_restored_whole_on_failure(tmp_path):
    """70 sites: the files are written by several threads; one broken site restores all 70 byte for byte."""
    from testing.repos import make_gitops_repo

    repo = make_gitops_repo(tmp_path, edge_sites=tuple(f"site-{i:02d}" for i in range(70)))
    promote(repo.work, request(to=("datacenter", "cloud"), force_order=True))
    broken = repo.work / "overlays/edge/site-42/kustomization.yaml"
    broken.write_text(broken.read_text() + "configMapGenerator:\n  - name: settings\n    files:\n      - missing-file.properties\n")
    repo.git("commit", "-qam", "site-42 gets a generator whose file is missing")
    snap, head = tree_snapshot(repo.work), repo.head()
    with pytest.raises(RenderError, match="site-42"):
        promote(repo.work, request(to=("edge",)))
    assert tree_snapshot(repo.work) == snap and repo.head() == head
    assert repo.git("status", "--porcelain") == ""

    repo.git("checkout", "-q", "HEAD~1", "--", "overlays/edge/site-42/kustomization.yaml")
    repo.git("commit", "-qm", "fix site-42")
    result = promote(repo.work, request(to=("edge",)))
    assert len(result.changed) == 70
    assert repo.git("show", "--name-only", "--format=", "HEAD").split() == [f"overlays/edge/site-{i:02d}/kustomization.yaml" for i in range(70)]
    assert repo.git("status", "--porcelain") == ""
    repo.git("fsck", "--strict")


def test_dry_run_renders_and_exits_as_the_real_run_would(gitops_repo):
    break_datacenter_render(gitops_repo)
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    with pytest.raises(RenderError, match="missing-file.properties"):
        promote(gitops_repo.work, request(dry_run=True))
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    with pytest.raises(PolicyError, match="stage order"):
        promote(gitops_repo.work, request(to=("edge",), dry_run=True))
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
