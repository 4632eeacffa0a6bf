"""Promotion policy on its own: the image belongs to the model, versions, stage order, verification,
no silent downgrade, holds. Each refusal is a PolicyError (exit 3) naming the site and the way out."""

from __future__ import annotations

import dataclasses

import pytest

from gitops_mlops.config.load import Hold, load_config
from gitops_mlops.config.sites import discover_sites, select
from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.core.imageref import parse_image
from gitops_mlops.promote import policy
from testing.paths import DIGEST_A, DIGEST_B, PROJECT_ROOT

CONFIG = load_config(PROJECT_ROOT)  # the example: datacenter -> cloud -> edge/*
SITES = discover_sites(PROJECT_ROOT, CONFIG)
MODEL = CONFIG.model("fraud-detector")
REPO = "quay.io/example/fraud-detector"


def sites(*selectors: str):
    return select(SITES, selectors)


def test_versions_are_semver_with_an_optional_v():
    assert str(policy.parse_version("v1.4.0")) == "1.4.0"
    with pytest.raises(InputError, match="version '1.4' is not a semantic version"):
        policy.parse_version("1.4")


def test_the_version_comes_from_version_else_a_semver_tag():
    assert policy.promotion_version(parse_image(f"{REPO}:1.4.0@{DIGEST_B}"), None) == "1.4.0"
    assert policy.promotion_version(parse_image(f"{REPO}:latest@{DIGEST_B}"), "1.4.0") == "1.4.0"
    with pytest.raises(InputError, match="--version 1.5.0 disagrees with the image tag '1.4.0'"):
        policy.promotion_version(parse_image(f"{REPO}:1.4.0@{DIGEST_B}"), "1.5.0")
    with pytest.raises(InputError, match="image tag 'latest' is not a semantic version; pass --version"):
        policy.promotion_version(parse_image(f"{REPO}:latest@{DIGEST_B}"), None)
    with pytest.raises(InputError, match="has no tag"):
        policy.promotion_version(parse_image(f"{REPO}@{DIGEST_B}"), None)


def test_the_image_must_be_the_models_repository_from_an_allowed_registry_by_digest():
    policy.check_image(CONFIG, MODEL, parse_image(f"{REPO}:1.4.0@{DIGEST_B}"))
    with pytest.raises(PolicyError, match="is not model fraud-detector's repository quay.io/example/fraud-detector"):
        policy.check_image(CONFIG, MODEL, parse_image(f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}"))
    with pytest.raises(InputError, match="has no digest"):
        policy.check_image(CONFIG, MODEL, parse_image(f"{REPO}:1.4.0"))
    elsewhere = dataclasses.replace(MODEL, repository="ghcr.io/example/fraud-detector")
    with pytest.raises(PolicyError, match=r"registry ghcr.io is not allowed by policy.allowedRegistries \(quay.io\)"):
        policy.check_source(CONFIG, elsewhere, parse_image(f"ghcr.io/example/fraud-detector:1@{DIGEST_B}"))


def test_a_stage_takes_a_digest_only_when_every_earlier_site_runs_it():
    everywhere_old = {s.name: {DIGEST_A} for s in SITES}
    policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("datacenter"), everywhere_old, SITES)  # the first stage: no gate
    with pytest.raises(PolicyError, match=r"stage order: cloud needs .* to run sha256:bbbbbbbbbbbb first; not yet: datacenter \(use --force-order"):
        policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("cloud"), everywhere_old, SITES)
    done = {**everywhere_old, "datacenter": {DIGEST_B}, "cloud": {DIGEST_B}}
    policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("edge"), done, SITES)


def test_the_gate_looks_at_the_latest_stage_promoted_to_and_not_at_sites_in_this_promotion():
    everywhere_old = {s.name: {DIGEST_A} for s in SITES}
    with pytest.raises(PolicyError, match="not yet: datacenter, cloud"):
        policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("datacenter", "edge"), everywhere_old, SITES)


def test_an_earlier_site_not_running_the_model_does_not_hold_the_gate():
    policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("cloud"), {"datacenter": set()}, SITES)


def test_an_earlier_site_that_cannot_render_is_a_render_error_naming_it():
    with pytest.raises(RenderError, match=r"cannot render: datacenter \(kustomize: boom\)"):
        policy.check_stage_order(CONFIG, MODEL, DIGEST_B, sites("cloud"), {}, SITES, failed={"datacenter": "kustomize: boom"})


def test_a_stage_requiring_verification_needs_a_successful_one_at_the_stage_before():
    stages = tuple(dataclasses.replace(s, require_verified=s.name == "cloud") for s in CONFIG.stages)
    config = dataclasses.replace(CONFIG, stages=stages)
    rendered = {"datacenter": {DIGEST_B}}
    with pytest.raises(
        PolicyError, match=r"stage cloud requires verified builds: .* at datacenter \(run: gitops-mlops verify fraud-detector --site datacenter --push"
    ):
        policy.check_verified(config, MODEL, DIGEST_B, sites("cloud"), rendered, SITES, {"datacenter": (DIGEST_B, "failed")})
    policy.check_verified(config, MODEL, DIGEST_B, sites("cloud"), rendered, SITES, {"datacenter": (DIGEST_B, "successful")})
    policy.check_verified(CONFIG, MODEL, DIGEST_B, sites("cloud"), rendered, SITES, {})  # not required: no gate


def test_a_downgrade_is_refused_naming_the_site_and_the_override():
    with pytest.raises(PolicyError, match=r"downgrade refused: cloud runs fraud-detector 1.4.0, newer than 1.3.9 \(use --allow-downgrade\)"):
        policy.check_downgrade(MODEL, "1.3.9", {"cloud": "1.4.0"}, sites("cloud"))
    policy.check_downgrade(MODEL, "1.4.0", {"cloud": "1.4.0"}, sites("cloud"))  # the same version again
    policy.check_downgrade(MODEL, "1.0.0", {"cloud": "latest"}, sites("cloud"))  # not a version: nothing to compare


def test_a_held_digest_is_refused_at_the_held_site_only():
    config = dataclasses.replace(CONFIG, holds=(Hold("fraud-detector", "edge/berlin-01", DIGEST_B, "latency"),))
    with pytest.raises(PolicyError, match=r"is on hold at edge/berlin-01 after a rollback \(latency\); .*release-hold fraud-detector --site edge/berlin-01"):
        policy.check_holds(config, MODEL, DIGEST_B, sites("edge"))
    policy.check_holds(config, MODEL, DIGEST_B, sites("edge/austin-01"))
    policy.check_holds(config, MODEL, DIGEST_A, sites("edge"))
