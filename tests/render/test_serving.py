"""KServe serving sense: each check accepts the example and rejects a broken object with one line naming object and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from gitops_mlops.config.load import load_config, parse_config
from gitops_mlops.render.serving import serving_errors
from testing.cli import cli
from tests.config.test_scaffold import kustomize_build

PROJECT_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example():
    objects = [o for o in yaml.safe_load_all(kustomize_build(PROJECT_ROOT / "overlays/edge/berlin-01")) if o]
    return load_config(PROJECT_ROOT), objects


def kserve(objects):
    isvc = copy.deepcopy(next(o for o in objects if o["kind"] == "InferenceService"))
    runtime = copy.deepcopy(next(o for o in objects if o["kind"] == "ServingRuntime"))
    return isvc, runtime


def with_serving(config, text: str):
    source = (PROJECT_ROOT / "gitops-mlops.yaml").read_text()
    return parse_config(source + text)


def test_the_example_makes_sense(example):
    config, objects = example
    assert serving_errors(config, "edge/berlin-01", objects) == []


def test_a_runtime_that_is_nowhere_is_an_error_unless_the_cluster_provides_it(example):
    config, objects = example
    isvc, _ = kserve(objects)
    isvc["spec"]["predictor"]["model"]["runtime"] = "vllm-runtime"
    (error,) = serving_errors(config, "edge/berlin-01", [isvc])
    assert error == (
        "InferenceService/fraud-detector: spec/predictor/model/runtime: ServingRuntime vllm-runtime is not in the site's render nor listed under serving.clusterRuntimes"
    )
    assert serving_errors(with_serving(config, "serving:\n  clusterRuntimes: [vllm-runtime]\n"), "edge/berlin-01", [isvc]) == []


def test_a_runtime_that_does_not_support_the_model_format_is_an_error(example):
    config, objects = example
    isvc, runtime = kserve(objects)
    isvc["spec"]["predictor"]["model"]["modelFormat"] = {"name": "sklearn"}
    (error,) = serving_errors(config, "edge/berlin-01", [isvc, runtime])
    assert (
        error
        == "InferenceService/fraud-detector: spec/predictor/model/modelFormat: runtime openvino-model-server does not support sklearn (it supports onnx 1, openvino_ir opset13)"
    )
    isvc["spec"]["predictor"]["model"]["modelFormat"] = {"name": "onnx", "version": "2"}
    assert "does not support onnx" in serving_errors(config, "edge/berlin-01", [isvc, runtime])[0]
    del isvc["spec"]["predictor"]["model"]["runtime"]
    isvc["spec"]["predictor"]["model"]["modelFormat"] = {"name": "onnx"}
    assert serving_errors(config, "edge/berlin-01", [isvc, runtime]) == []  # auto-selected
    runtime["spec"]["supportedModelFormats"][0]["autoSelect"] = False
    assert serving_errors(config, "edge/berlin-01", [isvc, runtime]) == [
        "InferenceService/fraud-detector: spec/predictor/model/runtime: none named, and no ServingRuntime in the site's render auto-selects onnx"
    ]


def test_the_deployment_mode_must_be_allowed(example):
    config, objects = example
    isvc, runtime = kserve(objects)
    only_raw = with_serving(config, "serving:\n  deploymentModes: [RawDeployment]\n")
    assert serving_errors(only_raw, "edge/berlin-01", [isvc, runtime]) == []
    del isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    assert serving_errors(only_raw, "edge/berlin-01", [isvc, runtime]) == [
        "InferenceService/fraud-detector: metadata/annotations/serving.kserve.io/deploymentMode: deployment mode Serverless is not allowed (serving.deploymentModes: RawDeployment)"
    ]
    with pytest.raises(Exception, match="'Kubernetes' is not one of Standard, RawDeployment, Advanced, Knative, Serverless, ModelMesh"):
        with_serving(config, "serving:\n  deploymentModes: [Kubernetes]\n")


@pytest.mark.parametrize("mode", ["Standard", "Advanced", "RawDeployment", "Serverless", "ModelMesh", "Knative"])
def test_every_name_kserve_and_openshift_ai_give_a_mode_is_allowed_by_default(example, mode):
    config, objects = example
    isvc, runtime = kserve(objects)
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = mode
    assert serving_errors(config, "edge/berlin-01", [isvc, runtime]) == []


def test_a_mode_allowed_by_one_name_is_allowed_by_its_other_names(example):
    config, objects = example
    isvc, runtime = kserve(objects)
    only_raw = with_serving(config, "serving:\n  deploymentModes: [RawDeployment]\n")
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Standard"  # KServe 0.15+ and OpenShift AI's name of RawDeployment
    assert serving_errors(only_raw, "edge/berlin-01", [isvc, runtime]) == []
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Knative"
    assert serving_errors(only_raw, "edge/berlin-01", [isvc, runtime]) == [
        "InferenceService/fraud-detector: metadata/annotations/serving.kserve.io/deploymentMode: deployment mode Knative is not allowed (serving.deploymentModes: RawDeployment)"
    ]
    only_standard = with_serving(config, "serving:\n  deploymentModes: [Standard]\n")
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "RawDeployment"
    assert serving_errors(only_standard, "edge/berlin-01", [isvc, runtime]) == []


def test_validate_accepts_deployment_mode_standard(gitops_repo):
    path = gitops_repo.work / "base/fraud-detector/inferenceservice.yaml"
    text = path.read_text()
    assert "deploymentMode: RawDeployment" in text
    path.write_text(text.replace("deploymentMode: RawDeployment", "deploymentMode: Standard"))
    result = cli("validate", cwd=gitops_repo.work)
    assert result.code == 0 and "5 sites valid" in result.err, result.out + result.err
    path.write_text(text.replace("deploymentMode: RawDeployment", "deploymentMode: Kubernetes"))
    result = cli("validate", "--site", "cloud", cwd=gitops_repo.work)
    assert result.code == 4 and "deployment mode Kubernetes is not allowed" in result.out


def test_a_modelcar_must_come_from_oci_and_runtime_images_by_digest(example):
    config, objects = example
    isvc, runtime = kserve(objects)
    isvc["spec"]["predictor"]["model"]["storageUri"] = "s3://models/fraud-detector/1"
    runtime["spec"]["containers"][0]["image"] = "quay.io/example/openvino-model-server:2025.1"
    assert serving_errors(config, "edge/berlin-01", [isvc, runtime]) == [
        "InferenceService/fraud-detector: spec/predictor/model/storageUri: 's3://models/fraud-detector/1' is not oci://: fraud-detector is a modelcar",
        "ServingRuntime/openvino-model-server: spec/containers/0/image: 'quay.io/example/openvino-model-server:2025.1' is not pinned by a sha256 digest",
    ]


def test_validate_reports_serving_sense_per_site(gitops_repo):
    path = gitops_repo.work / "base/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("runtime: openvino-model-server", "runtime: triton"))
    result = cli("validate", "--site", "cloud", cwd=gitops_repo.work)
    assert result.code == 4
    assert result.out == (
        "FAIL  cloud: site cloud: InferenceService/fraud-detector: spec/predictor/model/runtime: "
        "ServingRuntime triton is not in the site's render nor listed under serving.clusterRuntimes\n"
    )


@pytest.mark.parametrize(
    ("mode", "percent", "error"),
    [
        (None, 10, None),
        ("Serverless", 0, None),
        ("Knative", 100, None),
        ("RawDeployment", 10, "KServe splits traffic between revisions only in Serverless mode, not RawDeployment"),
        ("Standard", 10, "KServe splits traffic between revisions only in Serverless mode, not RawDeployment"),
        ("Serverless", 101, "101 is not a whole number from 0 to 100"),
        ("Serverless", "10", "'10' is not a whole number from 0 to 100"),
    ],
)
def test_a_canary_percentage_is_a_percentage_and_only_in_serverless_mode(example, mode, percent, error):
    config, objects = example
    isvc, runtime = kserve(objects)
    annotations = isvc["metadata"].setdefault("annotations", {})
    annotations.pop("serving.kserve.io/deploymentMode", None)
    if mode:
        annotations["serving.kserve.io/deploymentMode"] = mode
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = percent
    found = serving_errors(config, "edge/berlin-01", [isvc, runtime])
    assert found == ([f"InferenceService/fraud-detector: spec/predictor/canaryTrafficPercent: {error}"] if error else [])
