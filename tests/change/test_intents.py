"""What a command asks for: typed, frozen requests, and publish options checked once before anything
touches git, the registry or the forge."""

from __future__ import annotations

import dataclasses

import pytest

from gitops_mlops.change.intents import PromoteRequest, Publish, ReleaseHoldRequest, RollbackRequest
from gitops_mlops.core.errors import InputError


def test_requests_are_frozen_values():
    request = PromoteRequest(model="fraud-detector", image="quay.io/x/y:1", selectors=("edge",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.model = "other"  # type: ignore[misc]
    assert request == PromoteRequest(model="fraud-detector", image="quay.io/x/y:1", selectors=("edge",))


def test_request_defaults_are_the_safe_ones():
    promote = PromoteRequest(model="m", image="i", selectors=("s",))
    assert (promote.force_order, promote.allow_downgrade, promote.force_hold, promote.verify) == (False, False, False, True)
    assert RollbackRequest(model="m", selectors=("s",)).verify is True
    assert ReleaseHoldRequest(model="m", selectors=("s",)).digest is None
    assert Publish() == Publish(push=False, remote=None, target_branch=None, branch=None, dry_run=False, open_pr=False, labels=())


def test_valid_options_pass_unchanged():
    options = Publish(push=True, remote="origin", target_branch="main", branch="review/x", open_pr=True, labels=("gitops",))
    assert options.check() is options


@pytest.mark.parametrize(
    ("options", "cause"),
    [
        (dict(open_pr=True), "--open-pr needs --branch BRANCH"),
        (dict(labels=("a",)), "--label needs --open-pr"),
        (dict(branch="a..b"), "--branch 'a..b' is not a valid branch name"),
        (dict(branch="gitops-mlops/verifications"), "tool's own branches"),
        (dict(target_branch="HEAD"), "--target-branch 'HEAD' is not a valid branch name: it names a ref"),
        (dict(remote="--upload-pack=x"), "--remote '--upload-pack=x' is not a remote name"),
    ],
)
def test_bad_options_are_refused_naming_the_option_when_made(options, cause):
    with pytest.raises(InputError, match=cause.replace("(", r"\(").replace(".", r"\.")):
        Publish(**options)


def test_the_configs_hydrated_branch_is_refused_as_either_branch():
    assert Publish(branch="review/x").check_for("rendered") is not None
    with pytest.raises(InputError, match="--branch 'rendered'"):
        Publish(branch="rendered").check_for("rendered")
    with pytest.raises(InputError, match="--target-branch 'rendered'"):
        Publish(target_branch="rendered").check_for("rendered")
    assert Publish(branch="rendered").check_for(None).branch == "rendered"
