"""render.batches: sites cut into batches, wrapped under markers, and the output split back."""

from __future__ import annotations

from gitops_mlops.config.sites import Site
from gitops_mlops.render.batches import RESOURCE_BUDGET, in_batches, split_marked, write_wrapper
from gitops_mlops.render.kustomize import RESOURCE_BUDGET as REEXPORTED


def test_batches_hold_at_most_ten_sites_and_the_resource_budget():
    sites = [Site(f"s{i}", f"overlays/s{i}", "edge") for i in range(15)]
    assert [len(b) for b in in_batches(sites, 10, [40] * 15)] == [10, 5]  # ten sites of ten models
    assert [len(b) for b in in_batches(sites[:3], 10, [RESOURCE_BUDGET] * 3)] == [1, 1, 1]  # a hundred models: alone
    assert [len(b) for b in in_batches(sites[:4], 10, [100, 100, 300, 50])] == [2, 2]
    assert [len(b) for b in in_batches(sites[:2], 10, [900, 10])] == [1, 1]  # heavier than the budget: alone, still rendered
    assert REEXPORTED == RESOURCE_BUDGET


def test_each_site_of_a_wrapper_is_built_under_its_own_marker(tmp_path):
    write_wrapper(tmp_path / "w", ["../../a", "../../b"], "gabc")
    assert (tmp_path / "w" / "kustomization.yaml").read_text() == "resources:\n- s0\n- s1\n"
    marked = (tmp_path / "w" / "s1" / "kustomization.yaml").read_text()
    assert marked.startswith("resources:\n- ../../b\n- marker.yaml\nnamePrefix: gabc1z-\n") and "kind: Namespace" in marked
    assert "mark: gabc1z" in (tmp_path / "w" / "s1" / "marker.yaml").read_text()


def test_the_output_splits_back_by_marker_or_not_at_all():
    output = "kind: A\nmetadata:\n  name: gabc1z-x\n---\nkind: B\nmetadata:\n  name: gabc0z-y\n"
    assert split_marked(output, "gabc", 2) == ["kind: B\nmetadata:\n  name: y\n", "kind: A\nmetadata:\n  name: x\n"]
    assert split_marked("kind: A\nmetadata:\n  name: plain\n", "gabc", 2) is None  # no marker: not split
    assert split_marked("name: gabc0z-a gabc1z-b\n", "gabc", 2) is None  # two markers: not split
