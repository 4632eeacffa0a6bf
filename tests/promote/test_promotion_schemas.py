"""Promotion refused when it makes a rendered object invalid against its schema; the serving runtime promoted like a model."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.change.intents import PromoteRequest as Request
from gitops_mlops.core.errors import PolicyError, RenderError
from gitops_mlops.pins.kustomization import parse
from testing.paths import DIGEST_B
from testing.repos import tree_snapshot
from tests.promote.test_promotion import REPO, promote, request


def _open_object(**properties) -> dict:
    """A schema node that keeps unknown fields and checks the ones named."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": properties}


RELEASE_URI = {"type": "string", "pattern": "^oci://[^:]+:[0-9]+[.][0-9]+[.][0-9]+@"}
RELEASES_ONLY_CRD = json.dumps(  # JSON is YAML: the platform's InferenceService CRD, narrowed to released modelcars
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "inferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "names": {"kind": "InferenceService", "plural": "inferenceservices"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": _open_object(spec=_open_object(predictor=_open_object(model=_open_object(storageUri=RELEASE_URI))))},
                }
            ],
        },
    }
)


def test_a_promotion_that_makes_an_object_invalid_is_refused_and_writes_nothing(gitops_repo):
    """The platform's InferenceService CRD admits released modelcars only: a release candidate fails its schema."""
    (gitops_repo.work / "crds").mkdir()
    (gitops_repo.work / "crds/inferenceservice.yaml").write_text(RELEASES_ONLY_CRD)
    config = gitops_repo.work / "gitops-mlops.yaml"
    config.write_text(config.read_text() + "schemas:\n  crds: [crds/]\n")
    base = gitops_repo.work / "base/demand-forecast/deployment.yaml"  # an old problem elsewhere is not the promotion's business
    base.write_text(base.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: five"))
    gitops_repo.git("add", "-A")
    gitops_repo.git("commit", "-qm", "the platform's CRDs")
    snap, head = tree_snapshot(gitops_repo.work), gitops_repo.head()
    with pytest.raises(RenderError) as refused:
        promote(gitops_repo.work, request(tag="1.5.0-rc.1"))
    assert str(refused.value).startswith(
        "validation failed, nothing changed: site datacenter: InferenceService/fraud-detector: spec/predictor/model/storageUri: "
        f"'oci://{REPO}:1.5.0-rc.1@{DIGEST_B}' does not match"
    )
    assert tree_snapshot(gitops_repo.work) == snap and gitops_repo.head() == head
    assert promote(gitops_repo.work, request(tag="1.5.0")).commit is not None
    other = Request(model="demand-forecast", image=f"quay.io/example/demand-forecast:1.5.0@{DIGEST_B}", selectors=("datacenter",))
    assert promote(gitops_repo.work, other).commit is not None  # its Deployment was invalid before: not this change's doing


def test_the_serving_runtime_is_promoted_through_the_stages_like_a_model(gitops_repo):
    def runtime(stage: str) -> Request:
        return Request(model="openvino-model-server", image=f"quay.io/example/openvino-model-server:1.1.0@{DIGEST_B}", selectors=(stage,))

    with pytest.raises(PolicyError, match="stage order: cloud needs every site of the earlier stages that runs openvino-model-server"):
        promote(gitops_repo.work, runtime("cloud"))
    for stage in ("datacenter", "cloud"):
        assert promote(gitops_repo.work, runtime(stage)).changed == (stage,)
    assert parse(gitops_repo.read("overlays/cloud/kustomization.yaml"), "k").pin("openvino-model-server").digest == DIGEST_B
