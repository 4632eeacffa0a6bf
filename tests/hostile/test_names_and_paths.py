"""Hostile names and paths: site selectors, model names, site paths and names in the config, symlinks out of the repository and symlink loops.

Each case exits with its documented code and one line, and changes nothing (testing/hostile.py).
"""

from __future__ import annotations

import pytest

from testing.hostile import DC, IMAGE, Case, config_sites, link, outside, promote, replace_in, run

pytestmark = pytest.mark.slow  # hostile inputs through the real command line: outside the inner loop

CASES = [
    # site selectors and names
    Case("site-dotdot", 2, "site selector", promote(to="../etc")),
    Case("site-nested-dotdot", 2, "site selector", promote(to="edge/../../etc")),
    Case("site-absolute", 2, "site selector", promote(to="/etc/passwd")),
    Case("site-url-encoded-dots", 2, "site selector", promote(to="%2e%2e/%2e%2e/etc")),
    Case("site-newline", 2, "site selector", promote(to="datacenter\nedge")),
    Case("site-leading-dash", 2, "site selector", promote(to="-datacenter")),
    Case("site-unknown", 2, "matches no site", promote(to="mars")),
    Case("model-dotdot", 2, "unknown model", promote(model="../fraud-detector")),
    Case("model-absolute", 2, "unknown model", promote(model="/etc/passwd")),
    Case("model-newline", 2, "unknown model", promote(model="fraud-detector\nx")),
    Case("model-leading-dash", 2, "unknown model", ("promote", "--to", "datacenter", "--push", "--", "-fraud-detector", IMAGE), extra=()),
    Case("config-site-path-dotdot", 2, "leaves the repository", setup=config_sites("../../outside")),
    Case("config-site-path-absolute", 2, "must be a path relative", setup=config_sites("/etc")),
    Case("config-site-path-url-encoded", 2, "is not a directory", setup=config_sites("overlays/%2e%2e/%2e%2e/etc")),
    Case("config-site-path-nul", 2, "NUL", setup=config_sites('"overlays/data\\0center"')),
    Case("config-site-name-nul", 2, "is not usable", setup=config_sites("overlays/datacenter", name='"data\\0center"')),
    Case("config-site-name-dotdot", 2, "is not usable", setup=config_sites("overlays/datacenter", name="../datacenter")),
    # symlinks out of the repository, symlink loops
    Case("overlay-symlink-out", 2, "leaves the repository", setup=link("overlays/edge/evil", lambda r: str(outside(r)))),
    Case("kustomization-symlink-out", 2, "leaves the repository", setup=link(DC, lambda r: str(outside(r) / "kustomization.yaml"), replace=True)),
    Case("kustomization-symlink-loop", 2, "cannot be resolved", setup=link(DC, "kustomization.yaml", replace=True)),
    Case("config-site-path-symlink-loop", 2, "overlays/loop", setup=lambda r: (link("overlays/loop", "loop")(r), config_sites("overlays/loop")(r))[0]),
    Case(
        "resource-symlink-loop",
        4,
        "loop",
        setup=lambda r: (link("overlays/datacenter/loop", "loop")(r), replace_in(DC, "resources:\n", "resources:\n  - loop\n")(r))[0],
    ),
    Case("resource-leaves-repo", 4, "leaves the repository", setup=replace_in(DC, "resources:\n", "resources:\n  - ../../../outside\n")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_one_line_and_changes_nothing(case, fresh, http_refusing):
    run(case, fresh, http_refusing)
