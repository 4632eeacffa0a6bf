"""Every fast path equals its reference on generated fleets (testing/fleetgen.py): batched, flattened
and pin-invariant renders equal one ``kustomize build`` per site byte for byte, cold and after a
change of pin values; the fast pin reader and the container scanner equal a YAML parse. The full
run (300 fleets from a fixed seed) is slow and runs in CI; ``scripts/prove_fastpaths.py`` runs any
number from a random seed."""

from __future__ import annotations

import time

import pytest

from gitops_mlops.render.kustomize import parallelism
from testing.fastpath_proof import prove_many

CI_FLEETS = 300


def test_fast_paths_equal_their_references_on_a_few_generated_fleets(tmp_path):
    problems, sites = prove_many(range(1000, 1005), tmp_path, jobs=2)
    assert sites >= 10
    assert problems == []


@pytest.mark.slow
def test_fast_paths_equal_their_references_on_300_generated_fleets(tmp_path, capsys):
    start = time.monotonic()
    problems, sites = prove_many(range(CI_FLEETS), tmp_path, jobs=parallelism())
    with capsys.disabled():
        print(f"\nfast-path proofs: {CI_FLEETS} fleets, {sites} sites, {len(problems)} differences in {time.monotonic() - start:.0f} s")
    assert problems == [], "\n".join(problems[:20])
