"""The ``hydrate:``, ``schemas:`` and ``serving:`` sections read on their own."""

from __future__ import annotations

import pytest

from gitops_mlops.config.rendering import SchemaSpec, ServingSpec, read_hydrate, read_schemas, read_serving
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import compose

SOURCE = "gitops-mlops.yaml"


def node(text: str):
    return compose(text, SOURCE)


def test_defaults_when_absent():
    assert read_schemas(SOURCE, None) == SchemaSpec() and read_serving(SOURCE, None) == ServingSpec()


def test_hydrate_takes_a_branch_of_its_own_and_a_relative_folder():
    spec = read_hydrate(SOURCE, node("branch: rendered\npath: out/sites\n"), "main")
    assert (spec.branch, spec.path) == ("rendered", "out/sites")
    with pytest.raises(InputError, match="hydrate.branch must not be the branch the source lives on"):
        read_hydrate(SOURCE, node("branch: main\n"), "main")
    with pytest.raises(InputError, match="hydrate.path '../x'"):
        read_hydrate(SOURCE, node("branch: rendered\npath: ../x\n"), "main")


def test_schemas_and_serving_are_read():
    assert read_schemas(SOURCE, node("kubernetesVersion: '1.30'\ncrds: [crds/]\n")) == SchemaSpec("1.30", ("crds/",))
    serving = read_serving(SOURCE, node("clusterRuntimes: [ovms]\ndeploymentModes: [Standard]\n"))
    assert (serving.cluster_runtimes, serving.deployment_modes) == (("ovms",), ("Standard",))
    with pytest.raises(InputError, match="serving.deploymentModes: 'Fast' is not one of"):
        read_serving(SOURCE, node("deploymentModes: [Fast]\n"))
