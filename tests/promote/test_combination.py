"""Combinations: what a release's members render together, and declared compatibility (``requires:``)."""

from __future__ import annotations

import re

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.core.errors import PolicyError
from gitops_mlops.promote.combination import Member, check_requires, judged
from testing.paths import DIGEST_A, DIGEST_B, PROJECT_ROOT

EXAMPLE = (PROJECT_ROOT / "gitops-mlops.yaml").read_text()  # fraud-app requires fraud-detector ">=1.0.0 <2.0.0"


def test_a_member_reads_its_version_and_digest_from_its_image():
    member = Member("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A}")
    assert (member.version, member.digest) == ("1.5.0", DIGEST_A)
    assert (Member("x").version, Member("x").digest) == ("", "")


def test_only_the_models_of_a_requirement_are_judged():
    assert judged(parse_config(EXAMPLE)) == ("fraud-app", "fraud-detector")
    assert judged(parse_config(re.sub(r"    requires:.*\n.*\n", "", EXAMPLE))) == ()


def test_an_incompatible_pair_is_refused_naming_the_site_and_the_pair():
    config = parse_config(EXAMPLE)
    ok = {
        "fraud-detector": Member("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A}"),
        "fraud-app": Member("fraud-app", f"quay.io/example/fraud-app:1.2.0@{DIGEST_B}"),
    }
    check_requires(config, {"edge/a": ok})
    new = {**ok, "fraud-detector": Member("fraud-detector", f"quay.io/example/fraud-detector:2.0.0@{DIGEST_A}")}
    with pytest.raises(PolicyError, match=r"^incompatible at edge/b: fraud-app 1.2.0 requires fraud-detector '>=1.0.0 <2.0.0', .* fraud-detector 2.0.0$"):
        check_requires(config, {"edge/a": ok, "edge/b": new})
    check_requires(config, {"edge/c": {**ok, "fraud-detector": Member("fraud-detector")}})  # a site that does not run it: nothing to judge


def test_a_long_range_from_an_image_label_is_cut_in_the_refusal():
    config = parse_config(re.sub(r"(\n    repository: quay.io/example/fraud-app.*\n)", r"\1    requiresLabel: io.example.requires\n", EXAMPLE))
    assert config.model("fraud-app").requires_label == "io.example.requires"
    long = " || ".join(["<1.0.0"] * 400)  # a range the label may state (under its 4096 characters)
    members = {
        "fraud-detector": Member("fraud-detector", f"quay.io/example/fraud-detector:1.5.0@{DIGEST_A}"),
        "fraud-app": Member("fraud-app", f"quay.io/example/fraud-app:1.2.0@{DIGEST_B}"),
    }
    with pytest.raises(PolicyError) as caught:
        check_requires(config, {"edge/a": members}, lambda model, image: (("fraud-detector", long),))
    assert "(image label io.example.requires)" in str(caught.value) and len(str(caught.value)) < 400
