"""The Argo CD Applications under environments/: the folders they sync, those that are gone, and
what takes away the Applications of a removed folder."""

from __future__ import annotations

import os

import pytest

from gitops_mlops.config import applications
from gitops_mlops.core.errors import InputError
from testing.paths import PROJECT_ROOT
from testing.repos import build_tree


def app(name: str, path: str, sources: bool = False) -> str:
    source = f"  sources:\n    - repoURL: x\n      path: {path}\n" if sources else f"  source:\n    repoURL: x\n    path: {path}\n"
    return f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n{source}"


@pytest.fixture
def repo(tmp_path):
    build_tree(
        tmp_path,
        {
            "overlays/dc/kustomization.yaml": "resources: []\n",
            "overlays/edge/a/kustomization.yaml": "resources: []\n",
            "environments/kustomization.yaml": "resources:\n  - dc.yaml\n  - ./edge-a.yaml  # the edge site\n  - shared.yaml\n",
            "environments/dc.yaml": "# the datacenter\n" + app("dc", "overlays/dc"),
            "environments/edge-a.yaml": app("edge-a", "/overlays/edge/a/", sources=True),
            "environments/shared.yaml": app("one", "overlays/gone") + "---\n" + app("two", "overlays/dc"),
            "environments/other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
            "environments/broken.yaml": "a: [unclosed\n",
        },
    )
    return tmp_path


def test_every_application_with_its_folder_file_and_line(repo):
    found = {(a.file, a.name, a.path, a.line, a.alone) for a in applications.applications(repo)}
    assert found == {
        ("environments/dc.yaml", "dc", "overlays/dc", 9, True),
        ("environments/edge-a.yaml", "edge-a", "overlays/edge/a", 8, True),  # slashes stripped; from spec.sources
        ("environments/shared.yaml", "one", "overlays/gone", 8, False),
        ("environments/shared.yaml", "two", "overlays/dc", 17, False),
    }


def test_an_application_syncing_a_missing_folder_is_reported_with_file_and_line(repo):
    assert applications.missing_paths(repo) == ["environments/shared.yaml:8: Application one syncs overlays/gone, which does not exist"]


def test_the_example_repository_has_no_application_without_its_folder():
    assert applications.missing_paths(PROJECT_ROOT) == []
    assert {a.path for a in applications.applications(PROJECT_ROOT)} >= {"overlays/datacenter", "overlays/cloud"}


def test_removal_deletes_the_file_and_its_kustomization_entry(repo):
    deleted, edited = applications.removal(repo, "overlays/edge/a")
    assert deleted == ["environments/edge-a.yaml"]
    assert edited == {"environments/kustomization.yaml": "resources:\n  - dc.yaml\n  - shared.yaml\n"}
    assert (repo / "environments/edge-a.yaml").exists()  # removal says what to do; it writes nothing


def test_removal_of_a_folder_no_application_syncs_is_nothing(repo):
    assert applications.removal(repo, "overlays/nowhere") == ([], {})


def test_removal_refuses_an_application_sharing_its_file(repo):
    with pytest.raises(InputError, match=r"environments/shared.yaml:8: Application one syncs overlays/gone and shares its file; remove it first"):
        applications.removal(repo, "overlays/gone")


def test_a_symlink_leaving_the_repository_is_refused(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "app.yaml"
    outside.write_text(app("x", "overlays/dc"))
    os.symlink(outside, repo / "environments/leak.yaml")
    with pytest.raises(InputError, match="environments/leak.yaml: a symlink that leaves the repository"):
        applications.applications(repo)


def test_no_environments_folder_means_no_applications(tmp_path):
    assert applications.applications(tmp_path) == []
