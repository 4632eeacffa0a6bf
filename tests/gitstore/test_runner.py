"""gitstore.runner: a checkout opened, git run in it, failures as GitError."""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import GitError, InputError
from gitops_mlops.gitstore.runner import GitRunner, quote_path, redact
from tests.gitstore.test_commits import _repo


@pytest.mark.parametrize(
    ("path", "quoted"),
    [("a/b.yaml", '"a/b.yaml"'), ('x"y', '"x\\"y"'), ("a\\b", '"a\\\\b"'), ("new\nline", '"new\\nline"'), ("bell\x07", '"bell\\007"')],
)
def test_quote_path(path, quoted):
    assert quote_path(path) == quoted


def test_redact_removes_credentials_from_urls():
    assert redact("fatal: https://user:tok3n@example.test/x.git not found") == "fatal: https://***@example.test/x.git not found"


def test_a_folder_that_is_not_a_repository_is_named(tmp_path):
    with pytest.raises(GitError, match="not a git repository"):
        GitRunner(tmp_path)


def test_a_failing_command_names_itself_and_an_unknown_ref_is_bad_input(tmp_path):
    runner = GitRunner(_repo(tmp_path, {"a": "1\n"}))
    with pytest.raises(GitError, match="^git cat-file: "):
        runner.run("cat-file", "-p", "0" * 40)
    with pytest.raises(InputError, match="unknown git ref 'nope'"):
        runner.resolve("nope")
    assert runner.try_resolve("nope") is None and runner.try_resolve("HEAD") == runner.head()
