"""Errors that teach: a registry that does not answer names --no-verify, a plain-HTTP registry
reached over TLS names --insecure-registry HOST, and the way out each names works when taken."""

from __future__ import annotations

import re

from testing.cli import cli
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import pin_at, point_models_at, registry_namespace, tree_snapshot

OFFLINE = "127.0.0.1:9"  # nothing listens there


def _flag(message: str, flag: str, value: bool = False) -> list[str]:
    """The flag (with its value) a message tells the user to pass or use: ``pass --insecure-registry HOST``."""
    argument = r" [^\s;,()]+" if value else ""
    found = re.search(rf"(?:pass|use) ({re.escape(flag)}{argument})", message)
    assert found, f"{flag} not suggested: {message}"
    return found.group(1).split()


def test_an_unreachable_registry_names_no_verify_and_no_verify_promotes(gitops_repo, monkeypatch):
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY")
    point_models_at(gitops_repo, OFFLINE, "offline", listed=False)
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    args = ("promote", "fraud-detector", f"{OFFLINE}/offline/fraud-detector:1.4.0@{DIGEST_B}", "--to", "datacenter")
    refused = cli(*args, cwd=gitops_repo.work)
    assert refused.code == 6 and f"cannot reach {OFFLINE}" in refused.err
    assert refused.err.strip().endswith("to promote without asking the registry, pass --no-verify"), refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    taken = cli(*args, *_flag(refused.err, "--no-verify"), cwd=gitops_repo.work)
    assert taken.code == 0, taken.err
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_a_tag_offline_names_the_digest_and_no_verify(gitops_repo, monkeypatch):
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY")
    point_models_at(gitops_repo, OFFLINE, "offline", listed=False)
    result = cli("promote", "fraud-detector", f"{OFFLINE}/offline/fraud-detector:1.4.0", "--to", "datacenter", cwd=gitops_repo.work)
    assert result.code == 6 and "name the digest (IMAGE:TAG@sha256:...) and pass --no-verify" in result.err, result.err


def test_rollback_against_an_unreachable_registry_names_no_verify(gitops_repo, monkeypatch):
    point_models_at(gitops_repo, OFFLINE, "offline", listed=False)
    image = f"{OFFLINE}/offline/fraud-detector"
    for version, digest in (("1.3.0", "sha256:" + "3" * 64), ("1.4.0", DIGEST_B)):
        assert cli("promote", "fraud-detector", f"{image}:{version}@{digest}", "--to", "datacenter", cwd=gitops_repo.work).code == 0
    monkeypatch.delenv("GITOPS_MLOPS_NO_VERIFY")
    head = gitops_repo.head()
    args = ("rollback", "fraud-detector", "--site", "datacenter")
    refused = cli(*args, cwd=gitops_repo.work)
    assert refused.code == 6 and refused.err.strip().endswith("to roll back without asking the registry, pass --no-verify"), refused.err
    assert gitops_repo.head() == head
    taken = cli(*args, *_flag(refused.err, "--no-verify"), cwd=gitops_repo.work)
    assert taken.code == 0, taken.err
    assert pin_at(gitops_repo, "datacenter").digest == "sha256:" + "3" * 64


def test_tls_against_a_plain_http_registry_names_insecure_registry_and_it_works(gitops_repo, registry, pusher):
    ns = registry_namespace()
    point_models_at(gitops_repo, registry.host, ns, listed=False)  # not listed as insecure: HTTPS is tried
    digest, _ = pusher.image(f"{ns}/fraud-detector", "1.4.0")
    snap = tree_snapshot(gitops_repo.work)
    args = ("promote", "fraud-detector", f"{registry.host}/{ns}/fraud-detector:1.4.0", "--to", "datacenter")
    refused = cli(*args, cwd=gitops_repo.work)
    assert refused.code == 6 and f"TLS failed with {registry.host}" in refused.err
    assert f"pass --insecure-registry {registry.host}" in refused.err and len(refused.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work) == snap
    taken = cli(*args, *_flag(refused.err, "--insecure-registry", value=True), cwd=gitops_repo.work)
    assert taken.code == 0, taken.err
    assert pin_at(gitops_repo, "datacenter").digest == digest


def test_a_digest_without_tag_takes_the_version_the_sites_pin_it_with(gitops_repo):
    """The digest a stage before runs is promoted on by digest alone (promote --help's example)."""
    image = "quay.io/example/fraud-detector"
    assert cli("promote", "fraud-detector", f"{image}:1.4.0@{DIGEST_B}", "--to", "datacenter", cwd=gitops_repo.work).code == 0
    result = cli("promote", "fraud-detector", f"{image}@{DIGEST_B}", "--to", "cloud", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    pin = pin_at(gitops_repo, "cloud")
    assert (pin.digest, pin.new_tag) == (DIGEST_B, "1.4.0")
    unknown = cli("promote", "fraud-detector", f"{image}@{DIGEST_C}", "--to", "datacenter", cwd=gitops_repo.work)
    assert unknown.code == 2 and "has no tag and no site pins its digest with a version; pass --version X.Y.Z" in unknown.err
    assert cli("promote", "fraud-detector", f"{image}:1.4.1@{DIGEST_B}", "--to", "edge/berlin-01", cwd=gitops_repo.work).code == 0
    snap = tree_snapshot(gitops_repo.work)
    twice = cli("promote", "fraud-detector", f"{image}@{DIGEST_B}", "--to", "edge/austin-01", cwd=gitops_repo.work)
    assert twice.code == 2 and "pin its digest as several versions (1.4.0 at datacenter, 1.4.1 at edge/berlin-01)" in twice.err, twice.err
    assert tree_snapshot(gitops_repo.work) == snap


# ---------------------------------------------------------------- the way out each refusal names works

FD = "quay.io/example/fraud-detector"


def _promote(repo, tag: str, digest: str, where: str, *extra: str):
    return cli("promote", "fraud-detector", f"{FD}:{tag}@{digest}", "--to", where, *extra, cwd=repo.work)


def test_stage_order_and_downgrade_refusals_name_flags_that_work(gitops_repo):
    early = _promote(gitops_repo, "1.4.0", DIGEST_B, "edge")
    assert early.code == 3 and "(use --force-order to override)" in early.err
    assert _promote(gitops_repo, "1.4.0", DIGEST_B, "edge", *_flag(early.err, "--force-order")).code == 0
    assert _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter").code == 0
    older = _promote(gitops_repo, "1.3.0", DIGEST_C, "datacenter")
    assert older.code == 3 and "(use --allow-downgrade)" in older.err
    taken = _promote(gitops_repo, "1.3.0", DIGEST_C, "datacenter", *_flag(older.err, "--allow-downgrade"))
    assert taken.code == 0, taken.err
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_C


def test_a_hold_names_force_and_the_release_hold_command_and_both_work(gitops_repo):
    for tag, digest in (("1.3.0", DIGEST_C), ("1.4.0", DIGEST_B)):
        assert _promote(gitops_repo, tag, digest, "datacenter").code == 0
    assert cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).code == 0
    held = _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert held.code == 3 and "use --force, or lift it: gitops-mlops release-hold" in held.err
    assert _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "--force", "--dry-run").code == 0
    release = held.err.split("lift it: ", 1)[1].strip().split()
    assert release[:2] == ["gitops-mlops", "release-hold"]
    assert cli(*release[1:], cwd=gitops_repo.work).code == 0
    again = _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert again.code == 0, again.err
    assert pin_at(gitops_repo, "datacenter").digest == DIGEST_B


def test_a_foreign_local_commit_names_a_git_reset_that_works(gitops_repo):
    (gitops_repo.work / "NOTES.md").write_text("by hand\n")
    gitops_repo.git("add", "NOTES.md")
    gitops_repo.git("commit", "-qm", "notes by hand")
    refused = _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "--push")
    assert refused.code == 5 and "(git reset --keep origin/main)" in refused.err, refused.err
    reset = refused.err.split("drop it (", 1)[1].split(")", 1)[0].split()
    assert reset[:3] == ["git", "reset", "--keep"]
    gitops_repo.git(*reset[1:])
    pushed = _promote(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "--push")
    assert pushed.code == 0, pushed.err
    assert gitops_repo.remote_head() == gitops_repo.head()
