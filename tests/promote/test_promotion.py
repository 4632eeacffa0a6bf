"""Promotion end to end on real git repositories (bare remote + clone) and the real kustomize."""

from __future__ import annotations

import json
import sys

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.change.intents import Publish
from gitops_mlops.core.errors import GitError, InputError, PolicyError, RenderError
from gitops_mlops.pins.kustomization import parse
from gitops_mlops.promote.promotion import promote as _promote
from testing.cli import cli
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import git, one_model_repo, rendered_images, tree_snapshot

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


def test_push_lands_on_the_remote(gitops_repo):
    result = promote(gitops_repo.work, request(push=True))
    assert result.pushed and gitops_repo.remote_head() == result.commit


def test_push_starts_from_the_remote_tip(gitops_repo):
    other = gitops_repo.clone("other")
    promote(
        other.work, Request(model="demand-forecast", image=f"quay.io/example/demand-forecast:2.0.0@{DIGEST_C}", selectors=("datacenter",)), Publish(push=True)
    )
    result = promote(gitops_repo.work, request(push=True))  # the local checkout is behind: fetched first
    assert result.pushed and result.attempts == 1
    git(other.work, "pull", "--quiet")
    assert pin(other, "datacenter").digest == DIGEST_B
    dfp = parse(other.read("overlays/datacenter/kustomization.yaml"), "x").pin("demand-forecast")
    assert dfp.digest == DIGEST_C  # nobody's update is lost


def test_push_rejected_mid_flight_is_reapplied_on_the_new_tip(gitops_repo):
    """A competing pipeline pushes between our fetch and our push (a pre-push hook makes the race certain)."""
    other = gitops_repo.clone("other")
    marker = gitops_repo.work.parent / "raced"
    hook = gitops_repo.work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e {marker} ] && exit 0\ntouch {marker}\n"
        f"cd {other.work} && unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE && "
        f"{sys.executable} -m gitops_mlops promote demand-forecast quay.io/example/demand-forecast:2.0.0@{DIGEST_C} --to datacenter --push >/dev/null 2>&1\n"
    )
    hook.chmod(0o755)
    result = promote(gitops_repo.work, request(push=True))
    assert marker.exists() and result.pushed and result.attempts == 2
    assert git(gitops_repo.remote, "rev-list", "--count", "main").strip() == "3"  # init + theirs + ours: linear
    git(other.work, "pull", "--quiet")
    assert pin(other, "datacenter").digest == DIGEST_B
    assert parse(other.read("overlays/datacenter/kustomization.yaml"), "x").pin("demand-forecast").digest == DIGEST_C


def test_push_from_detached_head(gitops_repo):
    gitops_repo.git("checkout", "--quiet", "--detach", "HEAD")
    result = promote(gitops_repo.work, request(push=True))
    assert result.pushed and gitops_repo.remote_head() == result.commit


def test_push_refused_by_a_server_hook_exits_at_once(gitops_repo):
    hook = gitops_repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: promotions need review' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = gitops_repo.remote_head()
    with pytest.raises(GitError, match="refused by the remote") as caught:
        promote(gitops_repo.work, request(push=True))
    assert "PushRejected" not in type(caught.value).__name__
    assert gitops_repo.remote_head() == before


def test_pull_request_branch_is_pushed_with_a_review_body(gitops_repo):
    result = promote(gitops_repo.work, request(push=True, branch="promote/fraud-detector-1.4.0"))
    assert result.branch == "promote/fraud-detector-1.4.0" and result.pushed
    assert gitops_repo.remote_head("promote/fraud-detector-1.4.0") == result.commit
    assert gitops_repo.remote_head() != result.commit  # main untouched
    assert "datacenter" in result.pr_body and "gitops-mlops diff" in result.pr_body
    assert "1.0.0 → 1.4.0" in result.pr_body


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


def _open_object(**properties) -> dict:
    """A schema node that keeps unknown fields and checks the ones named."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": properties}


RELEASE_URI = {"type": "string", "pattern": "^oci://[^:]+:[0-9]+[.][0-9]+[.][0-9]+@"}
RELEASES_ONLY_CRD = json.dumps(  # JSON is YAML: the platform's InferenceService CRD, narrowed to released modelcars
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "inferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "names": {"kind": "InferenceService", "plural": "inferenceservices"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": _open_object(spec=_open_object(predictor=_open_object(model=_open_object(storageUri=RELEASE_URI))))},
                }
            ],
        },
    }
)


def test_a_promotion_that_makes_an_object_invalid_is_refused_and_writes_nothing(gitops_repo):
    """The platform's InferenceService CRD admits released modelcars only: a release candidate fails its schema."""
    (gitops_repo.work / "crds").mkdir()
    (gitops_repo.work / "crds/inferenceservice.yaml").write_text(RELEASES_ONLY_CRD)
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + "schemas:\n  crds: [crds/]\n")
    base = gitops_repo.work / "base/demand-forecast/deployment.yaml"  # an old problem elsewhere is not the promotion's business
    base.write_text(base.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: five"))
    gitops_repo.git("add", "-A")
    gitops_repo.git("commit", "-qm", "the platform's CRDs")
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    with pytest.raises(RenderError) as refused:
        promote(gitops_repo.work, request(tag="1.5.0-rc.1"))
    assert str(refused.value).startswith(
        "validation failed, nothing changed: site datacenter: InferenceService/fraud-detector: spec/predictor/model/storageUri: "
        f"'oci://{REPO}:1.5.0-rc.1@{DIGEST_B}' does not match"
    )
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    assert promote(gitops_repo.work, request(tag="1.5.0")).commit is not None
    other = Request(model="demand-forecast", image=f"quay.io/example/demand-forecast:1.5.0@{DIGEST_B}", selectors=("datacenter",))
    assert promote(gitops_repo.work, other).commit is not None  # its Deployment was invalid before: not this change's doing


def test_the_serving_runtime_is_promoted_through_the_stages_like_a_model(gitops_repo):
    def runtime(stage: str) -> Request:
        return Request(model="openvino-model-server", image=f"quay.io/example/openvino-model-server:1.1.0@{DIGEST_B}", selectors=(stage,))

    with pytest.raises(PolicyError, match="stage order: cloud needs every site of the earlier stages that runs openvino-model-server"):
        promote(gitops_repo.work, runtime("cloud"))
    for stage in ("datacenter", "cloud"):
        assert promote(gitops_repo.work, runtime(stage)).changed == (stage,)
    assert parse(gitops_repo.read("overlays/cloud/kustomization.yaml"), "k").pin("openvino-model-server").digest == DIGEST_B


# ---------------------------------------------------------------- image names as container runtimes resolve them


def hub_state(repo) -> tuple:
    """The clone's files, HEAD and the remote: what a refusal must leave as it was."""
    return {k: v for k, v in tree_snapshot(repo.work).items() if "/.git/" not in k}, repo.head(), repo.remote_head()


def test_a_docker_hub_model_spelled_short_in_the_manifests_is_promoted(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"docker.io/team/app:1.4.0@{DIGEST_B}", "--to", "dev", "--push", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:1.4.0@{DIGEST_B}"]
    assert rendered_images(repo, "overlays/prod") == ["team/app:1.0"]
    assert "- name: team/app\n" in repo.read("overlays/dev/kustomization.yaml")  # kustomize matches the name as the manifest spells it
    assert repo.remote_head() == repo.head()


def test_a_one_segment_name_is_in_library_on_docker_hub(tmp_path):
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", allowed="index.docker.io")
    result = cli("promote", "app", f"nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/nginx:1.4.0@{DIGEST_B}"]  # newName as the tool always wrote it
    again = cli("promote", "app", f"registry-1.docker.io/library/nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert again.code == 0 and "already up to date" in again.err, again.err


def test_a_pin_of_a_spelling_kustomize_does_not_match_is_left_and_the_rendered_name_pinned(tmp_path):
    pins = "images:\n  - name: docker.io/library/nginx\n    newTag: '9'\n"
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", model_image="docker.io/library/nginx", pins=pins)
    assert rendered_images(repo, "overlays/dev") == ["nginx:1.0"]  # kustomize matches images[].name literally
    result = cli("promote", "app", f"docker.io/library/nginx:1.4.0@{DIGEST_B}", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/library/nginx:1.4.0@{DIGEST_B}"]
    assert parse(repo.read("overlays/dev/kustomization.yaml"), "k").pin("nginx").digest == DIGEST_B


@pytest.mark.parametrize(
    "image, code, needle",
    [
        (f"quay.io/team/app:1.4.0@{DIGEST_B}", 3, "not model app's repository docker.io/team/app"),
        (f"library/team/app:1.4.0@{DIGEST_B}", 3, "not model app's repository"),
        (f"Docker.io/team/app:1.4.0@{DIGEST_B}", 2, "a registry host is lowercase"),
    ],
)
def test_another_repository_or_a_malformed_name_changes_nothing(tmp_path, image, code, needle):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    before = hub_state(repo)
    result = cli("promote", "app", image, "--to", "dev", "--push", cwd=repo.work)
    assert result.code == code and needle in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    assert hub_state(repo) == before and rendered_images(repo, "overlays/dev") == ["team/app:1.0"]


def test_the_allowed_registries_know_docker_hubs_aliases(tmp_path):
    for folder in ("a", "r"):
        (tmp_path / folder).mkdir()
    allowed = one_model_repo(tmp_path / "a", "team/app:1.0", "docker.io/team/app", allowed="registry-1.docker.io")
    assert cli("promote", "app", f"team/app:1.4.0@{DIGEST_B}", "--to", "dev", cwd=allowed.work).code == 0
    refused = one_model_repo(tmp_path / "r", "team/app:1.0", "docker.io/team/app", allowed="quay.io")
    before = hub_state(refused)
    result = cli("promote", "app", f"index.docker.io/team/app:1.4.0@{DIGEST_B}", "--to", "dev", cwd=refused.work)
    assert result.code == 3 and "registry index.docker.io is not allowed by policy.allowedRegistries (quay.io)" in result.err, result.err
    assert hub_state(refused) == before


# ---------------------------------------------------------------- the pin's tag is the image's own


def test_the_pin_takes_the_images_own_tag_and_version_names_the_release(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"team/app:build-7@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:build-7@{DIGEST_B}"]
    assert parse(repo.read("overlays/dev/kustomization.yaml"), "k").pin("team/app").new_tag == "build-7"
    assert trailers(repo)["Model-Version"] == "1.5.0" and trailers(repo)["Image"] == f"docker.io/team/app:build-7@{DIGEST_B}"
    assert json.loads(result.out)["version"] == "1.5.0"


def test_version_is_the_tag_only_when_the_image_has_none(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("promote", "app", f"docker.io/team/app@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    assert rendered_images(repo, "overlays/dev") == [f"docker.io/team/app:1.5.0@{DIGEST_B}"]


def test_a_version_that_contradicts_the_semver_tag_changes_nothing(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    before = hub_state(repo)
    result = cli("promote", "app", f"team/app:1.4.0@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", cwd=repo.work)
    assert result.code == 2 and result.err.strip().splitlines() == ["error: --version 1.5.0 disagrees with the image tag '1.4.0'"], result.err
    assert hub_state(repo) == before


def test_a_modelcar_pin_takes_the_images_own_tag_too(gitops_repo):
    result = promote(gitops_repo.work, Request(model="fraud-detector", image=f"{REPO}:nightly-42@{DIGEST_B}", selectors=("datacenter",), version="1.5.0"))
    assert result.version == "1.5.0" and pin(gitops_repo, "datacenter").new_tag == "nightly-42"
    assert f"oci://{REPO}:nightly-42@{DIGEST_B}" in gitops_repo.read("overlays/datacenter/kustomization.yaml")
