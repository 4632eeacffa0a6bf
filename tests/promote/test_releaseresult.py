"""A release's request and result: MEMBER=IMAGE arguments, members checked against the release, the pull request's text."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import InputError
from gitops_mlops.promote.releaseresult import ReleaseRequest, ReleaseResult, check_members, parse_members, release_text
from gitops_mlops.promote.result import Result
from testing.paths import PROJECT_ROOT


def config():
    """The example's: release fraud is fraud-detector, its runtime and fraud-app."""
    return parse_config((PROJECT_ROOT / "gitops-mlops.yaml").read_text())


@pytest.mark.parametrize(
    ("items", "match"),
    [
        (["fraud-detector"], "name each member as MEMBER=IMAGE"),
        (["=quay.io/x:1.0.0"], "MEMBER=IMAGE"),
        (["a=quay.io/a:1", "a=quay.io/a:2"], "member 'a' is named twice"),
        ([], "needs at least one MEMBER=IMAGE"),
    ],
)
def test_bad_member_arguments_are_bad_input(items, match):
    with pytest.raises(InputError, match=match):
        parse_members(items)


def test_members_must_belong_to_the_release():
    assert parse_members(["a=quay.io/a:1.0.0"]) == (("a", "quay.io/a:1.0.0"),)
    assert check_members(config(), ReleaseRequest("fraud", (("fraud-detector", "x"),), ("edge",))).members == (
        "fraud-detector",
        "openvino-model-server",
        "fraud-app",
    )
    with pytest.raises(InputError, match="not a member of release 'fraud'"):
        check_members(config(), ReleaseRequest("fraud", (("demand-forecast", "x"),), ("edge",)))
    with pytest.raises(InputError, match="unknown release 'fruad'.*did you mean 'fraud'"):
        check_members(config(), ReleaseRequest("fruad", (("fraud-detector", "x"),), ("edge",)))
    with pytest.raises(InputError, match="named twice"):
        check_members(config(), ReleaseRequest("fraud", (("fraud-detector", "x"), ("fraud-detector", "y")), ("edge",)))


def test_a_member_request_is_a_promotion_that_may_move_alone():
    request = ReleaseRequest("fraud", (("fraud-detector", "quay.io/example/fraud-detector:1.5.0"),), ("edge",), force_order=True)
    (member,) = request.member_requests()
    assert (member.model, member.selectors, member.member_only, member.force_order) == ("fraud-detector", ("edge",), True, True)


def test_the_pull_request_names_the_release_and_each_member():
    moved = Result("promote", "fraud-detector", "1.5.0", "quay.io/example/fraud-detector:1.5.0@sha256:" + "a" * 64, "", ("edge/a",), ())
    title, body = release_text(ReleaseResult("fraud", (moved,), commit="c" * 40), "main", "release-fraud")
    assert title == "Promote release fraud: fraud-detector 1.5.0"
    assert "Promotes release **fraud** together" in body and "gitops-mlops diff --base main --head release-fraud --markdown" in body
