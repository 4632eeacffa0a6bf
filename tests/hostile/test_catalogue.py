"""The hostile catalogue as a whole, and the YAML alias bomb."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import parse
from testing.hostile import BOMB
from tests.hostile import test_build_inputs, test_git_state, test_names_and_paths, test_values

CASES = [*test_names_and_paths.CASES, *test_build_inputs.CASES, *test_values.CASES, *test_git_state.CASES]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def test_an_alias_bomb_fails_in_under_a_second_and_small_memory():
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError, match="anchors and aliases"):
        parse("resources: []\n" + BOMB, "kustomization.yaml")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1 and peak < 5 * 1024 * 1024
