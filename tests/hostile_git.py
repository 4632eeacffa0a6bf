"""Set-ups of the hostile catalogue (tests/test_hostile.py) that leave git itself in a state: an
operation in progress, a branch that names a ref, a config naming a remote or branch badly.

Each set-up runs real git in the clone; what it leaves (a rebase stopped half-way, a
conflicted cherry-pick) is the state the command must refuse and leave exactly as it was.
"""

from __future__ import annotations

from conftest import GitOpsRepo, git

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
