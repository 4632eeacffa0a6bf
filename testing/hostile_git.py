"""Set-ups of the hostile catalogue (tests/hostile/) that leave git itself in a state: an
operation in progress, a branch that names a ref, a config naming a remote or branch badly.

Each set-up runs real git in the clone; what it leaves (a rebase stopped half-way, a
conflicted cherry-pick) is the state the command must refuse and leave exactly as it was.
"""

from __future__ import annotations

import hashlib
import json

from testing.cli import cli
from testing.repos import GitOpsRepo, git

NOTES = "notes.txt"  # a file outside every overlay: the tool's dirty check does not look at it


def _commit(repo: GitOpsRepo, text: str, message: str) -> None:
    (repo.work / NOTES).write_text(text)
    repo.git("add", NOTES)
    repo.git("commit", "--quiet", "-m", message)


def _side(repo: GitOpsRepo) -> None:
    """A branch ``side`` whose commit changes NOTES one way, and HEAD one that changes it another."""
    _commit(repo, "base\n", "notes")
    repo.git("branch", "side")
    _commit(repo, "ours\n", "ours")
    repo.git("checkout", "--quiet", "side")
    _commit(repo, "theirs\n", "theirs")
    repo.git("checkout", "--quiet", "-")
    repo.git("push", "--quiet", "origin", "HEAD:main")


def rebase_stopped(repo: GitOpsRepo) -> None:
    repo.git("commit", "--quiet", "--allow-empty", "-m", "to rebase")
    repo.git("push", "--quiet", "origin", "HEAD:main")
    git(repo.work, "rebase", "--exec", "false", "HEAD~1", check=False)  # stops after the pick
    assert (repo.work / ".git" / "rebase-merge").is_dir()


def merging(repo: GitOpsRepo) -> None:
    _side(repo)
    git(repo.work, "merge", "--no-ff", "--no-commit", "side", check=False)  # a conflict: MERGE_HEAD stays
    assert (repo.work / ".git" / "MERGE_HEAD").is_file()


def cherry_picking(repo: GitOpsRepo) -> None:
    _side(repo)
    git(repo.work, "cherry-pick", "side", check=False)
    assert (repo.work / ".git" / "CHERRY_PICK_HEAD").is_file()


def reverting(repo: GitOpsRepo) -> None:
    _side(repo)
    git(repo.work, "revert", "--no-edit", "HEAD~1", check=False)  # "notes" changed since: a conflict
    assert (repo.work / ".git" / "REVERT_HEAD").is_file()


def bisecting(repo: GitOpsRepo) -> None:
    repo.git("bisect", "start")
    repo.git("bisect", "bad")
    assert (repo.work / ".git" / "BISECT_LOG").is_file()


def upload_pack_remote(repo: GitOpsRepo) -> None:
    """``remote: --upload-pack=...``: were it handed to git, it would run a command that writes into the remote."""
    config = repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text().replace("remote: origin\n", f'remote: "--upload-pack=touch {repo.remote}/owned"\n', 1))


def config_line(line: str):
    def setup(repo: GitOpsRepo) -> None:
        with open(repo.work / "gitops-mlops.yaml", "a", encoding="utf-8") as handle:
            handle.write(line)

    return setup


def hydrated(repo: GitOpsRepo) -> None:
    config_line("hydrate:\n  branch: hydrated\n  path: sites\n")(repo)


def forge_hydrated(repo: GitOpsRepo, old: str, new: str, site: str = "datacenter") -> None:
    """Someone who can push to the hydrated branch commits by hand: ``site``'s render says ``new`` where
    the source renders ``old``, with metadata that looks right (the index's hash and containers follow,
    the trailer names the source's tip), and pushes it."""
    forger = repo.work.parent / "forger"
    git(repo.work.parent, "clone", "--quiet", "--branch", "hydrated", str(repo.remote), str(forger))
    manifests = forger / "sites" / site / "manifests.yaml"
    text = manifests.read_text()
    assert old in text
    manifests.write_text(text.replace(old, new))
    index = forger / ".gitops-mlops" / "sites.jsonl"
    records = [json.loads(line) for line in index.read_text().splitlines()]
    for record in records:
        if record["site"] == site:
            record |= {"sha": hashlib.sha256(manifests.read_bytes()).hexdigest(), "containers": record["containers"].replace(old, new)}
    index.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    source = git(repo.remote, "rev-parse", "main").strip()
    git(forger, "commit", "--quiet", "-am", f"hydrate {source[:12]}: 1 site(s)\n\nSource-Commit: {source}")
    git(forger, "push", "--quiet", "origin", "hydrated")


def promoted_then_forged(old: str, new: str):
    """The config hydrates; ``old`` promoted to datacenter and pushed by the tool; then the hydrated
    branch forged to say datacenter runs ``new``. The command runs with a cache of its own, as a fresh
    CI clone has: all it knows comes from the branch."""

    def setup(repo: GitOpsRepo) -> dict:
        hydrated(repo)
        repo.git("commit", "--quiet", "-am", "hydrate the sites")
        repo.git("push", "--quiet", "origin", "HEAD:main")
        assert cli("promote", "fraud-detector", f"quay.io/example/fraud-detector:{old}", "--to", "datacenter", "--push", cwd=repo.work).code == 0
        forge_hydrated(repo, old, new)
        repo.git("fetch", "--quiet", "origin", "+refs/heads/hydrated:refs/remotes/origin/hydrated")
        repo.git("branch", "--quiet", "-D", "hydrated")  # as in a fresh clone: the branch is origin's
        cache = repo.work.parent / "own-cache"
        cache.mkdir()
        return {"GITOPS_MLOPS_RENDER_CACHE": str(cache)}

    return setup


def hand_written_verification(repo: GitOpsRepo, digest: str) -> None:
    """cloud requires verified builds; datacenter runs ``digest``, never verified; a record saying it
    passed is pushed by hand to the verifications branch."""
    config = repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text().replace("  - name: cloud\n", "  - name: cloud\n    requireVerified: true\n", 1))
    repo.git("commit", "--quiet", "-am", "cloud requires verified builds")
    repo.git("push", "--quiet", "origin", "HEAD:main")
    assert cli("promote", "fraud-detector", f"quay.io/example/fraud-detector:1.4.0@{digest}", "--to", "datacenter", "--push", cwd=repo.work).code == 0
    record = {"model": "fraud-detector", "site": "datacenter", "stage": "datacenter", "digest": digest, "version": "1.4.0", "verdict": "successful"}
    record |= {"checks": [], "at": "2030-01-01T00:00:00Z", "source": ""}
    forger = repo.work.parent / "forger"
    git(repo.work.parent, "clone", "--quiet", str(repo.remote), str(forger))
    git(forger, "checkout", "--quiet", "--orphan", "gitops-mlops/verifications")
    git(forger, "rm", "-rq", "--cached", ".")
    (forger / "fraud-detector.jsonl").write_text(json.dumps(record, sort_keys=True) + "\n")
    git(forger, "add", "fraud-detector.jsonl")
    git(forger, "commit", "--quiet", "-m", f"verify fraud-detector: 1 site(s)\n\ndatacenter: successful {digest}")
    git(forger, "push", "--quiet", "origin", "gitops-mlops/verifications")
    repo.git("fetch", "--quiet", "origin")  # the clone has seen it: the gate's own fetch changes no ref
