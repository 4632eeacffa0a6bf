"""promote asks the registry before writing: a tag becomes its digest, a digest must exist,
in every allowed registry, listed or not (--no-verify skips it and says so). Real git, real kustomize, the real registry on loopback."""

from __future__ import annotations

import base64
import json

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.core.errors import RegistryError
from gitops_mlops.pins.kustomization import parse
from gitops_mlops.promote.promotion import promote
from testing.cli import cli
from testing.paths import DIGEST_B
from testing.registry_server import PASSWORD, USER
from testing.repos import point_models_at, registry_namespace, tree_snapshot


def pin(repo, site="datacenter"):
    path = f"overlays/{site}/kustomization.yaml"
    return parse(repo.read(path), path).pin("InferenceService/fraud-detector")


def trailers(repo) -> dict[str, str]:
    out = repo.git("log", "-1", "--format=%(trailers:only,unfold)")
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


@pytest.fixture
def ns(gitops_repo, registry):
    namespace = registry_namespace()
    point_models_at(gitops_repo, registry.host, namespace)
    return namespace


def test_tag_is_resolved_and_the_digest_promoted(gitops_repo, registry, pusher, ns):
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    result = cli("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:1.4.0", "--to", "datacenter", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert json.loads(result.out)["digest"] == digest
    p = pin(gitops_repo)
    assert (p.new_name, p.new_tag, p.digest) == (f"{registry.host}/{ns}/fraud-detector", "1.4.0", digest)
    assert trailers(gitops_repo)["Image"] == f"{registry.host}/{ns}/fraud-detector:1.4.0@{digest}"


def test_multi_arch_tag_pins_the_index_digest(gitops_repo, registry, pusher, ns):
    index, _ = pusher.index(f"{ns}/fraud-detector", "1.5.0")
    promote(gitops_repo.work, Request(model="fraud-detector", image=f"{registry.host}/{ns}/fraud-detector:1.5.0", selectors=("datacenter",)))
    assert pin(gitops_repo).digest == index


def test_existing_digest_is_verified_and_promoted(gitops_repo, registry, pusher, ns):
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    result = promote(gitops_repo.work, Request(model="fraud-detector", image=f"{registry.host}/{ns}/fraud-detector:1.4.0@{digest}", selectors=("datacenter",)))
    assert result.changed == ("datacenter",) and pin(gitops_repo).digest == digest


def test_digest_the_registry_does_not_have_exits_6_and_changes_nothing(gitops_repo, registry, pusher, ns):
    pusher.image(f"{ns}/fraud-detector", "1.4.0")
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    result = cli("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:1.4.0@{DIGEST_B}", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6
    assert result.err.strip() == f"error: registry {registry.host}: repository {ns}/fraud-detector: digest {DIGEST_B}: not found in the registry"
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_tag_and_digest_that_disagree_exit_6(gitops_repo, registry, pusher, ns):
    other, _ = pusher.image(f"{ns}/fraud-detector", "1.3.0")
    pusher.image(f"{ns}/fraud-detector", "1.4.0")
    snap = tree_snapshot(gitops_repo.work)
    result = cli("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:1.4.0@{other}", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and "tag 1.4.0 points to sha256:" in result.err and f"not {other}" in result.err
    assert tree_snapshot(gitops_repo.work) == snap


def test_unknown_tag_exits_6(gitops_repo, registry, ns):
    result = cli("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:9.9.9", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and f"repository {ns}/fraud-detector: tag 9.9.9: not found" in result.err


def test_a_digest_is_verified_in_an_allowed_registry_the_config_does_not_list(gitops_repo, monkeypatch):
    """Verification is the default for every allowed registry: one nobody answers for fails the
    promotion (exit 6, nothing written) unless --no-verify, which says so."""
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY")
    point_models_at(gitops_repo, "127.0.0.1:9", "offline", listed=False)  # nothing listens there
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    image = f"127.0.0.1:9/offline/fraud-detector:1.4.0@{DIGEST_B}"
    result = cli("promote", "fraud-detector", image, "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and "cannot reach 127.0.0.1:9" in result.err
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    skipped = cli("promote", "fraud-detector", image, "--to", "datacenter", "--no-verify", cwd=gitops_repo.work)
    assert skipped.code == 0, skipped.err
    assert "note: the digest was not checked in its registry (--no-verify)" in skipped.err
    assert pin(gitops_repo).digest == DIGEST_B


def test_rollback_checks_the_digest_it_goes_back_to_still_exists(gitops_repo, registry, pusher, ns):
    old, _ = pusher.image(f"{ns}/fraud-detector", "1.3.0")
    new, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    for digest in (old, new):
        assert (
            cli(
                "promote",
                "fraud-detector",
                f"{registry.host}/{ns}/fraud-detector@{digest}",
                "--to",
                "datacenter",
                "--version",
                "1.3.0" if digest == old else "1.4.0",
                cwd=gitops_repo.work,
            ).code
            == 0
        )
    assert cli("rollback", "fraud-detector", "--site", "datacenter", "--dry-run", cwd=gitops_repo.work).code == 0
    pusher.delete(f"{ns}/fraud-detector", old)  # the build gone back to was garbage-collected
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    result = cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and "not found in the registry" in result.err, result.err
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_a_tag_without_digest_always_needs_the_registry(gitops_repo):
    point_models_at(gitops_repo, "127.0.0.1:9", "offline", listed=False)
    snap = tree_snapshot(gitops_repo.work)
    result = cli("promote", "fraud-detector", "127.0.0.1:9/offline/fraud-detector:1.4.0", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and "registry 127.0.0.1:9: repository offline/fraud-detector: cannot reach 127.0.0.1:9" in result.err
    assert tree_snapshot(gitops_repo.work) == snap


def test_insecure_registry_flag_names_a_registry_the_config_does_not_list(gitops_repo, registry, pusher):
    ns = registry_namespace()
    point_models_at(gitops_repo, registry.host, ns, listed=False)
    pusher.image(f"{ns}/fraud-detector", "1.4.0")
    image = f"{registry.host}/{ns}/fraud-detector:1.4.0@{DIGEST_B}"
    checked = cli("promote", "fraud-detector", image, "--to", "datacenter", "--insecure-registry", registry.host, cwd=gitops_repo.work)
    assert checked.code == 6 and "not found in the registry" in checked.err


def test_registry_outside_the_allow_list_is_refused_before_contacting_it(gitops_repo):
    result = cli("promote", "fraud-detector", "ghcr.io/example/fraud-detector:1.4.0", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 3 and "not model fraud-detector's repository" in result.err


def test_credentials_never_appear_in_output_errors_or_commits(gitops_repo, basic_registry):
    ns = registry_namespace()
    point_models_at(gitops_repo, basic_registry.host, ns)
    pusher = basic_registry.pusher()
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    pusher.close()
    wrong = cli(
        "promote",
        "fraud-detector",
        f"{basic_registry.host}/{ns}/fraud-detector:1.4.0",
        "--to",
        "datacenter",
        cwd=gitops_repo.work,
        env={"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": "x" + PASSWORD},
    )
    assert wrong.code == 6 and "unauthorized (401)" in wrong.err and PASSWORD not in wrong.err + wrong.out
    env = {"GITOPS_MLOPS_REGISTRY_USERNAME": USER, "GITOPS_MLOPS_REGISTRY_PASSWORD": PASSWORD}
    ok = cli("promote", "fraud-detector", f"{basic_registry.host}/{ns}/fraud-detector:1.4.0", "--to", "datacenter", "-o", "json", cwd=gitops_repo.work, env=env)
    assert ok.code == 0, ok.err
    assert json.loads(ok.out)["digest"] == digest
    everything = ok.out + ok.err + gitops_repo.git("log", "-p", "--all")
    assert PASSWORD not in everything and base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in everything


def test_library_raises_registry_error_for_a_moved_tag(gitops_repo, registry, pusher, ns):
    old, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    pusher.image(f"{ns}/fraud-detector", "1.4.0", salt="again")
    with pytest.raises(RegistryError, match="tag 1.4.0 points to"):
        promote(gitops_repo.work, Request(model="fraud-detector", image=f"{registry.host}/{ns}/fraud-detector:1.4.0@{old}", selectors=("datacenter",)))
