"""Hostile values: numbers and durations, image references, versions and policy, values that reach the network.

Each case exits with its documented code and one line, and changes nothing (testing/hostile.py).
"""

from __future__ import annotations

import pytest

from testing.hostile import DC, IMAGE, REPO, Case, append, check_with, checks_on_a_namespace, promote, replace_in, run
from testing.paths import DIGEST_B

pytestmark = pytest.mark.slow  # hostile inputs through the real command line: outside the inner loop

CASES = [
    # nesting the C parser would recurse into until the process crashed
    Case("config-nested-deep", 2, "YAML nested deeper than 1000 levels", setup=append("gitops-mlops.yaml", "holds: " + "[" * 50_000 + "]" * 50_000 + "\n")),
    Case("kustomization-nested-deep", 4, "exceeded max depth", setup=append(DC, "labels: " + "[" * 50_000 + "]" * 50_000 + "\n")),
    # numbers and durations: decimal digits, bounded
    Case(
        "check-count-huge",
        2,
        "gitops-mlops.yaml:26: stage 'datacenter' check.count must be a whole number from 1 to 1000",
        setup=check_with("count: 100000000000"),
    ),
    Case("check-count-hex", 2, "gitops-mlops.yaml:26: stage 'datacenter' check.count must be a whole number from 1 to 1000", setup=check_with("count: 0x10")),
    Case("check-count-underscores", 2, "check.count must be a whole number", setup=check_with("count: 1_0")),
    Case("check-failure-limit-huge", 2, "check.failureLimit must be a whole number from 0 to 1000", setup=check_with("failureLimit: 99999999999999999999")),
    Case(
        "check-initial-delay-huge",
        2,
        "gitops-mlops.yaml:26: check 'latency' initialDelay: duration '99999999999h' is longer",
        setup=check_with("initialDelay: 99999999999h"),
    ),
    Case("check-interval-huge", 2, "interval: duration '25h' is longer than the 24h limit", setup=check_with("interval: 25h")),
    Case("check-interval-not-ascii", 2, "is not like 30s", setup=check_with("interval: \u0661\u0662s")),
    Case("check-interval-mapping", 2, "gitops-mlops.yaml:26: check 'latency' interval: duration must be", setup=check_with("interval: {s: 1}")),
    Case(
        "watch-interval-huge",
        2,
        "--interval: duration '9999999h' is longer",
        ("watch", "fraud-detector", "--site", "datacenter", "--interval", "9999999h"),
        extra=(),
    ),
    Case("init-edge-sites-huge", 2, "edge site count 10000000: must be from 0 to 50000", ("init", "fleet", "--edge-sites", "10000000"), extra=()),
    # image references, versions, policy
    Case("digest-short", 2, "64 lowercase hex", promote(image=f"{REPO}:1.4.0@sha256:abc")),
    Case("digest-upper-case", 2, "64 lowercase hex", promote(image=f"{REPO}:1.4.0@sha256:{'A' * 64}")),
    Case("digest-sha512", 2, "sha256", promote(image=f"{REPO}:1.4.0@sha512:{'a' * 128}")),
    Case("digest-twice", 2, "64 lowercase hex", promote(image=f"{IMAGE}@{DIGEST_B}")),
    Case("digest-missing", 2, "no digest", promote(REPO, "datacenter", "fraud-detector", "--version", "1.4.0")),
    Case("tag-leading-dash", 2, "invalid tag", promote(image=f"{REPO}:-bad@{DIGEST_B}")),
    Case("tag-too-long", 2, "invalid tag", promote(image=f"{REPO}:{'1' * 129}@{DIGEST_B}")),
    Case("reference-whitespace", 2, "whitespace", promote(image=f"{REPO}:1.4.0 @{DIGEST_B}")),
    Case("reference-url", 2, "image reference", promote(image=f"https://{IMAGE}")),
    Case("reference-upper-case-path", 2, "invalid repository path", promote(image=f"quay.io/Example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("reference-empty-registry-label", 2, "image reference", promote(image=f"quay..io/example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("version-not-semver", 2, "not a semantic version", promote(IMAGE, "datacenter", "fraud-detector", "--version", "1.4")),
    Case("tag-not-semver", 2, "not a semantic version", promote(image=f"{REPO}:latest@{DIGEST_B}")),
    Case("version-disagrees-with-tag", 2, "disagrees", promote(IMAGE, "datacenter", "fraud-detector", "--version", "1.5.0")),
    Case("downgrade", 3, "downgrade refused", promote(image=f"{REPO}:0.9.0@{DIGEST_B}")),
    Case("foreign-repository", 3, "not model fraud-detector's repository", promote(image=f"ghcr.io/example/fraud-detector:1.4.0@{DIGEST_B}")),
    Case("stage-order", 3, "stage order", promote(to="edge")),
    Case(
        "digest-on-hold",
        3,
        "on hold",
        setup=replace_in("gitops-mlops.yaml", "holds: []", f"holds:\n  - model: fraud-detector\n    site: datacenter\n    digest: {DIGEST_B}"),
    ),
    # values that reach the network: a query, a URL
    Case(
        "namespace-promql-injection",
        2,
        "not a Kubernetes name",
        ("verify", "fraud-detector", "--site", "datacenter"),
        setup=checks_on_a_namespace('x"} or vector(1) or up{a="'),
        extra=(),
    ),
    Case("config-url-with-password", 2, "carries a user or password", setup=append("gitops-mlops.yaml", "retrain:\n  url: http://u:PASS@127.0.0.1:9/\n")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_one_line_and_changes_nothing(case, fresh, http_refusing):
    run(case, fresh, http_refusing)
