"""add-site and remove-site: one commit each, on real repositories with a remote and the real kustomize."""

from __future__ import annotations

import json

from gitops_mlops.fleet.siteadmin import covered, generator_paths
from gitops_mlops.render.kustomize import Kustomize
from testing.cli import cli
from testing.paths import DIGEST_A, DIGEST_B
from testing.repos import git, ship, tree_snapshot


def test_add_site_copies_an_overlay_with_its_pins_renders_it_and_pushes_one_commit(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    ship(gitops_repo, "1.4.0", DIGEST_B, "edge/berlin-01", force_order=True)
    before = gitops_repo.head()
    result = cli("add-site", "edge/paris-01", "--like", "edge/berlin-01", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["site"] == "edge/paris-01" and data["path"] == "overlays/edge/paris-01" and data["pushed"] and data["pickedUp"]
    assert gitops_repo.remote_head() == data["commit"] and git(gitops_repo.work, "rev-parse", f"{data['commit']}~1").strip() == before
    old = (gitops_repo.work / "overlays/edge/berlin-01/kustomization.yaml").read_text()
    new = (gitops_repo.work / "overlays/edge/paris-01/kustomization.yaml").read_text()
    assert new.split("\n", 1)[1] == old.split("\n", 1)[1]  # every byte but the header comment
    assert new.startswith("# Edge site paris-01:")
    status = json.loads(cli("status", "--site", "edge/paris-01", "--model", "fraud-detector", "-o", "json", cwd=gitops_repo.work).out)
    assert status[0]["digest"] == DIGEST_B  # it runs what the site it was copied from runs
    assert "Action: add-site" in gitops_repo.git("log", "-1", "--format=%B")


def test_add_site_bad_input_changes_nothing(gitops_repo):
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    for args, needle in (
        (["edge/berlin-01", "--like", "edge/austin-01"], "already exists"),
        (["edge/paris-01", "--like", "edge/nowhere"], "no such site"),
        (["edge/../x", "--like", "edge/austin-01"], "not usable"),
    ):
        result = cli("add-site", *args, cwd=gitops_repo.work)
        assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_a_site_that_does_not_render_is_not_added(gitops_repo):
    broken = gitops_repo.work / "overlays/edge/austin-01/kustomization.yaml"
    broken.write_text(broken.read_text().replace("../../../base/fraud-detector", "../../../base/missing"))
    gitops_repo.git("commit", "-qam", "break austin")
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    result = cli("add-site", "edge/paris-01", "--like", "edge/austin-01", cwd=gitops_repo.work)
    assert result.code in (2, 4) and "base/missing" in result.err
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head


def test_remove_site_takes_its_holds_and_is_refused_while_another_site_builds_on_it(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_A, "datacenter", "cloud", "edge")  # a release to roll back to
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    assert cli("rollback", "fraud-detector", "--site", "edge/austin-01", cwd=gitops_repo.work).code == 0
    wrapper = gitops_repo.work / "overlays/edge/austin-02"
    wrapper.mkdir()
    (wrapper / "kustomization.yaml").write_text("resources:\n  - ../austin-01\n")
    gitops_repo.git("add", "-A")
    gitops_repo.git("commit", "-qm", "a site built on austin-01")
    gitops_repo.git("push", "-q", "origin", "HEAD:main")  # by hand, as a person does
    snap = tree_snapshot(gitops_repo.work)
    refused = cli("remove-site", "edge/austin-01", cwd=gitops_repo.work)
    assert refused.code == 2 and "edge/austin-02 builds on overlays/edge/austin-01" in refused.err
    assert tree_snapshot(gitops_repo.work) == snap
    assert cli("remove-site", "edge/austin-02", cwd=gitops_repo.work).code == 0
    result = cli("remove-site", "edge/austin-01", "--push", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["holdsRemoved"] == 1 and "gitops-mlops.yaml" in data["files"] and data["pushed"]
    assert not (gitops_repo.work / "overlays/edge/austin-01").exists()
    assert "edge/austin-01" not in cli("sites", cwd=gitops_repo.work).out
    assert gitops_repo.git("status", "--porcelain") == ""
    assert "austin-01" not in (gitops_repo.work / "gitops-mlops.yaml").read_text()


def test_the_example_application_set_picks_edge_sites_up(gitops_repo):
    assert generator_paths(gitops_repo.work) == ["overlays/edge/*"]
    assert covered(gitops_repo.work, "overlays/edge/paris-01") and not covered(gitops_repo.work, "overlays/labs/x")


def test_remove_site_refuses_to_empty_a_stage_and_force_takes_its_application_too(gitops_repo):
    snap, remote = tree_snapshot(gitops_repo.work), tree_snapshot(gitops_repo.remote)
    refused = cli("remove-site", "datacenter", "--push", cwd=gitops_repo.work)
    assert refused.code == 3
    assert refused.err.strip().splitlines()[-1].startswith("error: site 'datacenter' is the last site of stage 'datacenter'")
    assert tree_snapshot(gitops_repo.work) == snap and tree_snapshot(gitops_repo.remote) == remote
    done = cli("remove-site", "datacenter", "--force", "--push", "-o", "json", cwd=gitops_repo.work)
    assert done.code == 0, done.err
    files = json.loads(done.out)["files"]
    assert "environments/datacenter.yaml" in files and "environments/kustomization.yaml" in files
    assert not (gitops_repo.work / "environments/datacenter.yaml").exists()
    assert "datacenter.yaml" not in (gitops_repo.work / "environments/kustomization.yaml").read_text()
    assert "Stage datacenter has no site left (--force)." in gitops_repo.git("log", "-1", "--format=%B")
    assert gitops_repo.git("status", "--porcelain") == ""
    assert Kustomize.find().build(gitops_repo.work / "environments")  # the Argo CD objects still build
    validate = cli("validate", cwd=gitops_repo.work)
    assert validate.code == 4
    assert "error: stage datacenter: no site (configured in gitops-mlops.yaml)" in validate.err


def test_validate_reports_an_application_syncing_a_folder_that_is_gone(gitops_repo):
    cloud = gitops_repo.work / "environments/cloud.yaml"
    cloud.write_text(cloud.read_text().replace("path: overlays/cloud", "path: overlays/clouds"))
    result = cli("validate", cwd=gitops_repo.work)
    assert result.code == 4
    assert "error: environments/cloud.yaml:" in result.err and "syncs overlays/clouds, which does not exist" in result.err
    assert cli("validate", "--site", "edge", cwd=gitops_repo.work).code == 0  # a selection checks its sites only


def test_remove_site_refuses_an_application_that_shares_its_file(gitops_repo):
    cloud = gitops_repo.work / "environments/cloud.yaml"
    cloud.write_text(cloud.read_text() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: beside-it\n")
    gitops_repo.git("commit", "-qam", "a second document beside the cloud Application")
    snap = tree_snapshot(gitops_repo.work)
    refused = cli("remove-site", "cloud", "--force", cwd=gitops_repo.work)
    assert refused.code == 2 and "environments/cloud.yaml:" in refused.err and "shares its file; remove it first" in refused.err
    assert tree_snapshot(gitops_repo.work) == snap


def test_remove_site_refuses_a_site_holding_a_symlink_and_changes_nothing(gitops_repo):
    (gitops_repo.work / "overlays/edge/austin-01/notes.txt").symlink_to("kustomization.yaml")
    gitops_repo.git("add", "-A")
    gitops_repo.git("commit", "-qm", "a link in the site")
    snap = tree_snapshot(gitops_repo.work)
    for extra in ((), ("--dry-run",)):
        refused = cli("remove-site", "edge/austin-01", *extra, cwd=gitops_repo.work)
        assert refused.code == 2 and "overlays/edge/austin-01/notes.txt: a symlink in the site's folder" in refused.err
    assert tree_snapshot(gitops_repo.work) == snap and (gitops_repo.work / "overlays/edge/austin-01/notes.txt").is_symlink()
