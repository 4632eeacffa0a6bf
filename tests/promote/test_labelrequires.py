"""requiresLabel: what an image states it requires, read from its config in the real registry on loopback,
judged as requires: is (exit 3 naming the site and the pair); real git and kustomize; refusals write nothing."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.core.errors import RegistryError
from gitops_mlops.gitstore import trailers
from gitops_mlops.gitstore.repo import GitRepo
from gitops_mlops.promote import labelrequires
from gitops_mlops.promote.releaseupdate import update_release
from gitops_mlops.registry.labels import image_labels
from testing.cli import cli
from testing.repos import tree_snapshot
from tests.promote.test_update import configure, push_tags

RELEASE = "releases:\n  - name: fraud\n    members: [fraud-detector, openvino-model-server]\n"
LABEL = "io.example.requires"


def with_label(repo, host: str) -> str:
    """The release, and the runtime stating what it requires in its image label ``io.example.requires``."""
    return configure(repo, host, extra=RELEASE, runtime=f"    requiresLabel: {LABEL}\n")


def test_a_label_requirement_refuses_an_incompatible_release_and_admits_a_compatible_one(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    fd, rt = f"{registry.host}/{ns}/fraud-detector", f"{registry.host}/{ns}/openvino-model-server"
    for tag in ("1.5.0", "1.6.0"):
        pusher.image(f"{ns}/fraud-detector", tag)
    pusher.image(f"{ns}/openvino-model-server", "2.0.0", labels={LABEL: "fraud-detector >=1.5.0 <1.6.0", "other": "x"})
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("promote", "--release", "fraud", f"fraud-detector={fd}:1.6.0", f"openvino-model-server={rt}:2.0.0", "--to", "datacenter", cwd=gitops_repo.work)
    assert run.code == 3, run.err
    assert run.err.strip() == (
        "error: incompatible at datacenter: openvino-model-server 2.0.0 requires fraud-detector '>=1.5.0 <1.6.0' "
        f"(image label {LABEL}), and the site would run fraud-detector 1.6.0"
    )
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot
    ok = cli("promote", "--release", "fraud", f"fraud-detector={fd}:1.5.0", f"openvino-model-server={rt}:2.0.0", "--to", "datacenter", cwd=gitops_repo.work)
    assert ok.code == 0, ok.err
    moved = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    alone = cli("promote", "fraud-detector", f"{fd}:1.6.0", "--to", "datacenter", "--member-only", cwd=gitops_repo.work)
    assert alone.code == 3 and "incompatible at datacenter: openvino-model-server 2.0.0 requires fraud-detector" in alone.err, alone.err
    assert len(alone.err.strip().splitlines()) == 1 and tree_snapshot(gitops_repo.work, gitops_repo.remote) == moved


def test_with_no_verify_the_label_is_not_read_and_a_note_says_so(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    fd_digest, _ = pusher.image(f"{ns}/fraud-detector", "1.6.0")
    rt_digest, _ = pusher.image(f"{ns}/openvino-model-server", "2.0.0", labels={LABEL: "fraud-detector >=1.5.0 <1.6.0"})
    members = (
        f"fraud-detector={registry.host}/{ns}/fraud-detector:1.6.0@{fd_digest}",
        f"openvino-model-server={registry.host}/{ns}/openvino-model-server:2.0.0@{rt_digest}",
    )
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("promote", "--release", "fraud", *members, "--to", "datacenter", "--no-verify", "--dry-run", cwd=gitops_repo.work)
    assert run.code == 0, run.err
    assert f"note: openvino-model-server 2.0.0: label {LABEL} not read (registry not asked: --no-verify): what it requires was not checked" in run.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_a_label_that_does_not_parse_or_names_an_unknown_model_is_exit_2_and_writes_nothing(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    pusher.image(f"{ns}/fraud-detector", "1.5.0")
    pusher.image(f"{ns}/openvino-model-server", "2.0.0", labels={LABEL: "fraud-detector banana"})
    pusher.image(f"{ns}/openvino-model-server", "2.1.0", labels={LABEL: "fraud-detectr >=1.0.0"})
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    for tag, needle in (("2.0.0", "requires fraud-detector: constraint 'banana'"), ("2.1.0", "requires unknown model 'fraud-detectr'")):
        image = f"{registry.host}/{ns}/openvino-model-server:{tag}"
        run = cli(
            "promote",
            "--release",
            "fraud",
            f"fraud-detector={registry.host}/{ns}/fraud-detector:1.5.0",
            f"openvino-model-server={image}",
            "--to",
            "datacenter",
            cwd=gitops_repo.work,
        )
        assert run.code == 2 and needle in run.err and f"label {LABEL}" in run.err and len(run.err.strip().splitlines()) == 1, run.err
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_an_image_without_the_label_requires_nothing(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    pusher.image(f"{ns}/fraud-detector", "1.6.0")
    pusher.image(f"{ns}/openvino-model-server", "2.0.0")
    members = (f"fraud-detector={registry.host}/{ns}/fraud-detector:1.6.0", f"openvino-model-server={registry.host}/{ns}/openvino-model-server:2.0.0")
    run = cli("promote", "--release", "fraud", *members, "--to", "datacenter", cwd=gitops_repo.work)
    assert run.code == 0, run.err
    assert f"the image has no label {LABEL}: it states no requirement" in run.err


@pytest.mark.parametrize("env", [{}, {"GITOPS_MLOPS_NO_VERIFY": "1"}], ids=["no-label", "not-read"])
def test_update_and_update_release_say_what_a_label_did_not_tell(gitops_repo, registry, pusher, env):
    """The notes promote prints (no label on the image; the label not read) are printed by update and update --release too."""
    ns = with_label(gitops_repo, registry.host)
    pusher.image(f"{ns}/fraud-detector", "1.6.0")
    pusher.image(f"{ns}/openvino-model-server", "2.0.0")
    pusher.image(f"{ns}/demand-forecast", "1.0.0")
    said = f"label {LABEL} not read (registry not asked: --no-verify)" if env else f"the image has no label {LABEL}: it states no requirement"
    run = cli("update", "--release", "fraud", "--dry-run", cwd=gitops_repo.work, env=env)
    assert run.code == 0 and f"note: openvino-model-server 2.0.0: {said}" in run.err, run.err
    (gitops_repo.work / "gitops-mlops.yaml").write_text((gitops_repo.work / "gitops-mlops.yaml").read_text().replace(RELEASE, ""))
    gitops_repo.git("commit", "-qam", "no release")
    run = cli("update", "--model", "openvino-model-server", "--dry-run", cwd=gitops_repo.work, env=env)
    assert run.code == 0 and f"note: openvino-model-server 2.0.0: {said}" in run.err, run.err


def test_a_label_the_registry_cannot_give_is_exit_6_and_writes_nothing(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    pusher.image(f"{ns}/fraud-detector", "1.5.0")  # the runtime the sites run is not in the registry: its label cannot be read
    absent = f"{registry.host}/{ns}/openvino-model-server:2.0.0@sha256:{'2' * 64}"
    shipped = cli("promote", "openvino-model-server", absent, "--to", "datacenter", "--member-only", "--no-verify", cwd=gitops_repo.work)
    assert shipped.code == 0, shipped.err
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:1.5.0", "--to", "datacenter", "--member-only", cwd=gitops_repo.work)
    assert run.code == 6 and f"repository {ns}/openvino-model-server: manifest sha256:" in run.err, run.err
    assert len(run.err.strip().splitlines()) == 1 and tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_update_release_takes_the_next_combination_when_a_label_rules_the_newest_out(gitops_repo, registry, pusher, monkeypatch):
    ns = with_label(gitops_repo, registry.host)
    fd = push_tags(pusher, f"{ns}/fraud-detector", ["1.5.0", "1.6.0"])
    rt_digest, _ = pusher.image(f"{ns}/openvino-model-server", "2.0.0", labels={LABEL: "fraud-detector >=1.5.0 <1.6.0"})
    pusher.image(f"{ns}/openvino-model-server", "1.9.0", labels={LABEL: "fraud-detector <1.6.0"})
    reads = []
    monkeypatch.setattr(labelrequires, "image_labels", lambda client, ref: reads.append(ref.digest) or image_labels(client, ref))
    head = gitops_repo.head()
    updates = {u.stage: u for u in update_release(gitops_repo.work, "fraud")}
    # (1.6.0, 2.0.0) and (1.6.0, 1.9.0) are ruled out by the runtime's labels; (1.5.0, 2.0.0) is the newest left
    assert updates["datacenter"].status == "updated", updates["datacenter"].note
    assert [(m, v) for m, v, _ in updates["datacenter"].members] == [("fraud-detector", "1.5.0"), ("openvino-model-server", "2.0.0")]
    assert gitops_repo.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    (commit,) = GitRepo(gitops_repo.work).log_trailers("HEAD", limit=1)
    assert [images for r in trailers.read_all(commit) for images, _ in r.images] == [
        f"{registry.host}/{ns}/fraud-detector:1.5.0@{fd['1.5.0']}",
        f"{registry.host}/{ns}/openvino-model-server:2.0.0@{rt_digest}",
    ]
    assert len(reads) == len(set(reads)) == 2 and all(reads), reads  # each runtime image's label read once, the promotion reusing it


def test_update_release_is_no_match_when_labels_rule_every_combination_out(gitops_repo, registry, pusher):
    ns = with_label(gitops_repo, registry.host)
    pusher.image(f"{ns}/fraud-detector", "1.6.0")
    pusher.image(f"{ns}/openvino-model-server", "2.0.0", labels={LABEL: "fraud-detector >=1.5.0 <1.6.0"})
    pusher.image(f"{ns}/openvino-model-server", "1.9.0", labels={LABEL: "fraud-detector <1.6.0"})
    pusher.image(f"{ns}/demand-forecast", "1.0.0")
    snapshot = tree_snapshot(gitops_repo.work, gitops_repo.remote)
    run = cli("update", "--release", "fraud", "-o", "json", cwd=gitops_repo.work)
    assert run.code == 0, run.err
    updates = json.loads(run.out)["updates"]
    assert {u["status"] for u in updates} == {"no-match"}
    assert all(u["note"].startswith("no combination of them is compatible") for u in updates), updates
    assert tree_snapshot(gitops_repo.work, gitops_repo.remote) == snapshot


def test_the_stand_in_digest_init_wrote_is_not_asked_of_the_registry(gitops_repo, registry):
    """A site still at init's placeholder keeps no image in any registry: its label is not read (no exit 6)."""
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.scaffold import initial_digest

    ns = with_label(gitops_repo, registry.host)
    config = load_config(gitops_repo.work)
    model = config.model("openvino-model-server")
    placeholder = f"{registry.host}/{ns}/openvino-model-server@{initial_digest(model.name)}"
    with labelrequires.LabelRequirements(config, (registry.host,)) as labelled:
        assert labelled(model, placeholder) == ()
        assert labelled.labels == {} and any("stand-in digest init wrote" in note for note in labelled.notes)
        real = f"{registry.host}/{ns}/openvino-model-server@sha256:{'1' * 64}"
        with pytest.raises(RegistryError):
            labelled(model, real)  # any other digest is asked for, and one the registry lacks is exit 6
