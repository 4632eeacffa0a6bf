"""Combinations: what a release's members render together, the gate on them, and declared compatibility."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import PolicyError
from gitops_mlops.promote.combination import Member, check_requires, judged
from testing.paths import DIGEST_A, DIGEST_B, PROJECT_ROOT

REQUIRES = '    requires:\n      fraud-detector: ">=1.5.0 <2.0.0"\n'


def config(requires: str = REQUIRES):
    text = (PROJECT_ROOT / "gitops-mlops.yaml").read_text()
    marker = "    repository: quay.io/example/openvino-model-server"
    start = text.index(marker)
    end = text.index("\n", start) + 1
    return parse_config(text[:end] + requires + text[end:])


def test_a_member_reads_its_version_and_digest_from_its_image():
    member = Member("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A}")
    assert (member.version, member.digest) == ("1.5.0", DIGEST_A)
    assert (Member("x").version, Member("x").digest) == ("", "")


def test_only_the_models_of_a_requirement_are_judged():
    assert judged(config()) == ("openvino-model-server", "fraud-detector")
    assert judged(config("")) == ()


def test_an_incompatible_pair_is_refused_naming_the_site_and_the_pair():
    ok = {
        "fraud-detector": Member("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A}"),
        "openvino-model-server": Member("openvino-model-server", f"quay.io/example/openvino-model-server:2.0.0@{DIGEST_B}"),
    }
    check_requires(config(), {"edge/a": ok})
    old = {**ok, "fraud-detector": Member("fraud-detector", f"quay.io/example/fraud-detector:1.4.0@{DIGEST_A}")}
    with pytest.raises(
        PolicyError, match=r"incompatible at edge/b: openvino-model-server 2.0.0 requires fraud-detector '>=1.5.0 <2.0.0', .* fraud-detector 1.4.0"
    ):
        check_requires(config(), {"edge/a": ok, "edge/b": old})
    check_requires(config(), {"edge/c": {**ok, "fraud-detector": Member("fraud-detector")}})  # a site that does not run it: nothing to judge
