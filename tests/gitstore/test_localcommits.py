"""The tool's own local commits the remote lacks: found (only when every one is the tool's), and
replayed onto the remote's tip, a change the tip already has dropped, a conflict refused with the
checkout left as it was. Real repositories: a bare remote and clones."""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import GitError
from gitops_mlops.gitstore.localcommits import own_local_commits, replay
from gitops_mlops.gitstore.repo import GitRepo
from testing.repos import GitOpsRepo, make_repo_from


@pytest.fixture
def repo(tmp_path) -> GitOpsRepo:
    return make_repo_from(tmp_path, {"a.txt": "a\n", "b.txt": "b\n"})


def commit(repo: GitOpsRepo, path: str, text: str, action: str | None = "promote") -> str:
    (repo.work / path).write_text(text)
    repo.git("add", path)
    message = f"change {path}\n\nModel: m\nAction: {action}\n" if action else f"change {path} by hand\n"
    repo.git("commit", "-q", "-m", message)
    return repo.head()


def test_nothing_to_publish_when_the_tip_has_head(repo):
    git = GitRepo(repo.work)
    assert own_local_commits(git, repo.head(), repo.head(), "origin/main") == []
    assert own_local_commits(git, None, repo.head(), "origin/main") == []


def test_the_tools_commits_are_found_oldest_first(repo):
    tip = repo.head()
    first = commit(repo, "a.txt", "a2\n")
    second = commit(repo, "b.txt", "b2\n", action="rollback")
    assert own_local_commits(GitRepo(repo.work), repo.head(), tip, "origin/main") == [first, second]


def test_a_hand_made_commit_is_refused_with_the_way_out(repo):
    tip = repo.head()
    commit(repo, "a.txt", "a2\n")
    hand = commit(repo, "b.txt", "b2\n", action=None)
    with pytest.raises(
        GitError,
        match=rf"HEAD has commit {hand[:12]} \(change b.txt by hand\) that origin/main does not and gitops-mlops did not make; .*git reset --keep origin/main",
    ):
        own_local_commits(GitRepo(repo.work), repo.head(), tip, "origin/main")


def test_an_unknown_action_is_not_the_tools(repo):
    tip = repo.head()
    commit(repo, "a.txt", "a2\n", action="deploy")
    with pytest.raises(GitError, match="gitops-mlops did not make"):
        own_local_commits(GitRepo(repo.work), repo.head(), tip, "origin/main")


def test_a_merge_commit_is_refused(repo):
    tip = repo.head()
    repo.git("checkout", "-q", "-b", "side")
    commit(repo, "b.txt", "b2\n")
    repo.git("checkout", "-q", "main")
    commit(repo, "a.txt", "a2\n")
    repo.git("merge", "-q", "--no-edit", "-m", "merge\n\nAction: promote", "side")
    with pytest.raises(GitError, match="HEAD has merge commits that origin/main does not"):
        own_local_commits(GitRepo(repo.work), repo.head(), tip, "origin/main")


def test_replay_puts_the_commits_on_the_remotes_tip_and_drops_what_it_has(repo):
    other = repo.clone("other")  # someone else moves the remote on, with one of our changes too
    commit(other, "b.txt", "b2\n")
    (other.work / "c.txt").write_text("c\n")
    other.git("add", "c.txt")
    other.git("commit", "-qm", "c")
    other.git("push", "-q", "origin", "main")
    base = repo.head()
    mine = [commit(repo, "a.txt", "a2\n"), commit(repo, "b.txt", "b2\n")]
    git = GitRepo(repo.work)
    repo.git("fetch", "-q", "origin")
    repo.git("reset", "-q", "--hard", "origin/main")
    assert own_local_commits(git, mine[-1], base, "origin/main") == mine
    new = replay(git, mine, "origin/main")
    assert len(new) == 1 and new == [repo.head()]  # b.txt's change was already there: dropped
    assert repo.read("a.txt") == "a2\n" and repo.read("c.txt") == "c\n"
    assert repo.git("log", "-1", "--format=%B", "HEAD").startswith("change a.txt")  # its message kept


def test_a_commit_that_does_not_apply_is_refused_and_the_checkout_left_as_it_was(repo):
    other = repo.clone("other")
    commit(other, "a.txt", "theirs\n")
    other.git("push", "-q", "origin", "main")
    mine = commit(repo, "a.txt", "mine\n")
    repo.git("fetch", "-q", "origin")
    repo.git("reset", "-q", "--hard", "origin/main")
    tip = repo.head()
    with pytest.raises(GitError, match=rf"local commit {mine[:12]} does not apply on origin/main .*git reset --keep origin/main"):
        replay(GitRepo(repo.work), [mine], "origin/main")
    assert repo.head() == tip and repo.read("a.txt") == "theirs\n"
    assert repo.git("status", "--porcelain") == ""
