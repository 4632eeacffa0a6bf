"""The project's example and ``init``'s outputs are valid against real schemas, as a cluster would check them,
and the product's schema checks (``gitops_mlops/render/schemas.py``) refuse every kind of broken object.

Built-in kinds against the schemas ``kubernetes-validate`` ships (strict); custom resources
(OpenShift Route, KServe InferenceService and ServingRuntime, Argo CD Application,
ApplicationSet and AppProject, Tekton Pipeline) against the real CRDs in the fixtures
(``GITOPS_MLOPS_CRDS`` or ``../shared/crds``). CEL rules (``x-kubernetes-validations``) are
not evaluated. YAML is read with PyYAML, the YAML 1.1 reading the API server uses.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.scaffold import ScaffoldSpec, write_layout
from gitops_mlops.render.schemas import Schemas
from testing.cli import cli
from testing.paths import crd_dir, product_schemas
from testing.repos import tree_snapshot
from tests.config.test_scaffold import FLEET, kustomize_build

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_RE = re.compile(r"(?P<repository>[^@]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@sha256:[0-9a-f]{64}")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def schema_errors(obj: dict) -> list[str]:
    """Every violation of one object as 'path: message'; a kind without a schema is an error, never a pass."""
    errors, unchecked = product_schemas().check_object(obj)
    if unchecked:
        return [f"no schema for kind {obj['kind']!r}"]
    return [f"{f.path}: {f.message}" for f in errors]


# ------------------------------------------------------------------ the example


def overlay_dirs() -> list[Path]:
    return sorted(p.parent for p in (PROJECT_ROOT / "overlays").rglob("kustomization.yaml"))


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    """Site name (path under overlays/) -> the objects its overlay renders."""
    return {d.relative_to(PROJECT_ROOT / "overlays").as_posix(): load_all(kustomize_build(d)) for d in overlay_dirs()}


@pytest.fixture(scope="module")
def config():
    return parse_config((PROJECT_ROOT / "gitops-mlops.yaml").read_text())


@pytest.fixture(scope="module")
def environments() -> dict[str, dict]:
    """File name -> object, for every environments/ file except its kustomization."""
    files = sorted((PROJECT_ROOT / "environments").glob("*.yaml"))
    return {p.name: obj for p in files if p.name != "kustomization.yaml" for obj in load_all(p.read_text())}


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def model_servers(objects: list[dict]) -> list[dict]:
    """The Deployments serving a model (not the application calling one)."""
    return [d for d in of_kind(objects, "Deployment") if d["metadata"]["labels"].get("app.kubernetes.io/component") == "model-server"]


def test_every_overlay_serves_each_model_its_way(rendered, config):
    assert sorted(rendered) == ["cloud", "datacenter", "edge/austin-01", "edge/berlin-01", "edge/singapore-01"]
    deployed = sorted(m.name for m in config.models if m.artifact == "image" and m.name not in ("openvino-model-server", "fraud-app"))
    for site, objects in rendered.items():
        kinds = {"Deployment", "Service", "Route"} | (set() if site.startswith("edge/") else {"HorizontalPodAutoscaler"})
        for kind in kinds:
            app = [] if kind == "HorizontalPodAutoscaler" else ["fraud-app"]  # the application: no autoscaler of its own
            assert sorted(o["metadata"]["name"] for o in of_kind(objects, kind)) == sorted(deployed + app), (site, kind)
        assert [o["metadata"]["name"] for o in of_kind(objects, "InferenceService")] == ["fraud-detector"], site
        assert [o["metadata"]["name"] for o in of_kind(objects, "ServingRuntime")] == ["openvino-model-server"], site
        assert {o["kind"] for o in objects} == kinds | {"InferenceService", "ServingRuntime"}, site
        assert {o["metadata"].get("namespace") for o in objects} == {"ml-serving"}, site


def test_every_rendered_object_is_schema_valid(rendered):
    errors = [f"{site} {o['kind']}/{o['metadata']['name']}: {e}" for site, objects in rendered.items() for o in objects for e in schema_errors(o)]
    assert errors == []


def test_every_environments_file_is_schema_valid(environments):
    assert {name: obj["kind"] for name, obj in environments.items()} == {
        "cloud.yaml": "Application",
        "datacenter.yaml": "Application",
        "edge-fleet.yaml": "ApplicationSet",
        "project.yaml": "AppProject",
    }
    errors = [f"{name}: {e}" for name, obj in environments.items() for e in schema_errors(obj)]
    assert errors == []


def test_environments_kustomization_lists_every_file():
    (kustomization,) = load_all((PROJECT_ROOT / "environments/kustomization.yaml").read_text())
    files = sorted(
        p.relative_to(PROJECT_ROOT / "environments").as_posix() for p in (PROJECT_ROOT / "environments").rglob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert sorted(kustomization["resources"]) == files


def test_applications_deploy_this_repository_within_the_project(environments, config):
    project = environments["project.yaml"]
    allowed_namespaces = {d["namespace"] for d in project["spec"]["destinations"]}
    appset = environments["edge-fleet.yaml"]
    sources = [environments["datacenter.yaml"]["spec"], environments["cloud.yaml"]["spec"], appset["spec"]["template"]["spec"]]
    for spec in sources:
        assert spec["project"] == project["metadata"]["name"]
        assert spec["source"]["repoURL"] == config.repo_url and spec["source"]["repoURL"] in project["spec"]["sourceRepos"]
        assert spec["source"]["targetRevision"] == config.target_branch
        assert spec["destination"]["namespace"] in allowed_namespaces
        assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    for name in ("datacenter", "cloud"):
        assert (PROJECT_ROOT / environments[f"{name}.yaml"]["spec"]["source"]["path"] / "kustomization.yaml").is_file()
    (generator,) = appset["spec"]["generators"]
    assert generator["git"]["repoURL"] == config.repo_url and generator["git"]["revision"] == config.target_branch
    (pattern,) = [d["path"] for d in generator["git"]["directories"]]
    matched = sorted(p.relative_to(PROJECT_ROOT).as_posix() for p in PROJECT_ROOT.glob(pattern) if p.is_dir())
    assert matched == [f"overlays/{site}" for site in ("edge/austin-01", "edge/berlin-01", "edge/singapore-01")]


def test_edge_sites_run_one_replica_on_edge_nodes_without_autoscaler(rendered):
    edge = {site: objects for site, objects in rendered.items() if site.startswith("edge/")}
    assert len(edge) == 3
    for site, objects in edge.items():
        assert of_kind(objects, "HorizontalPodAutoscaler") == [], site
        for d in model_servers(objects):
            pod = d["spec"]["template"]["spec"]
            assert d["spec"]["replicas"] == 1 and pod["nodeSelector"] == {"node-role.kubernetes.io/edge": ""}, site
            assert any(t["key"] == "node-role.kubernetes.io/edge" for t in pod["tolerations"]), site
            assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"], site
        for isvc in of_kind(objects, "InferenceService"):
            predictor = isvc["spec"]["predictor"]
            assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 1), site
            assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "none", site
            assert predictor["nodeSelector"] == {"node-role.kubernetes.io/edge": ""}, site
            assert "nvidia.com/gpu" not in predictor["model"]["resources"]["limits"], site


def test_datacenter_runs_on_gpus_and_cloud_autoscales_wider(rendered):
    for d in model_servers(rendered["datacenter"]):
        (server,) = d["spec"]["template"]["spec"]["containers"]
        assert server["resources"]["requests"]["nvidia.com/gpu"] == "1" == server["resources"]["limits"]["nvidia.com/gpu"]
        assert d["spec"]["replicas"] == 3

    def hpa_ranges(site):
        return {(h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in of_kind(rendered[site], "HorizontalPodAutoscaler")}

    assert hpa_ranges("datacenter") == {(3, 12)} and hpa_ranges("cloud") == {(2, 20)}

    def isvc_ranges(site):
        return {(i["spec"]["predictor"]["minReplicas"], i["spec"]["predictor"]["maxReplicas"]) for i in of_kind(rendered[site], "InferenceService")}

    assert isvc_ranges("datacenter") == {(3, 12)} and isvc_ranges("cloud") == {(2, 20)}
    (isvc,) = of_kind(rendered["datacenter"], "InferenceService")
    assert isvc["spec"]["predictor"]["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    for d in model_servers(rendered["cloud"]):
        assert "nvidia.com/gpu" not in d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]


def test_every_model_server_image_is_pinned_by_tag_and_digest(rendered, config):
    repositories = {m.name: m.repository for m in config.models}
    for site, objects in rendered.items():
        for d in model_servers(objects):
            (server,) = d["spec"]["template"]["spec"]["containers"]
            match = IMAGE_RE.fullmatch(server["image"])
            assert server["name"] == "model-server" and match, (site, server["image"])
            assert match["repository"] == repositories[d["metadata"]["name"]], (site, server["image"])


def test_model_servers_are_locked_down_and_probed(rendered):
    for site, objects in rendered.items():
        for d in model_servers(objects):
            pod = d["spec"]["template"]["spec"]
            (server,) = pod["containers"]
            assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, site
            assert server["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, site
            assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready", site
            assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live", site
            assert {"cpu", "memory"} <= server["resources"]["requests"].keys() & server["resources"]["limits"].keys(), site
            assert {"name": "tmp", "mountPath": "/tmp"} in server["volumeMounts"], site
            assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"]), site


def test_the_application_calls_the_fraud_detector_and_moves_with_it(rendered, config):
    (release,) = config.releases
    assert (release.name, release.members) == ("fraud", ("fraud-detector", "openvino-model-server", "fraud-app"))
    assert config.model("fraud-app").requires == (("fraud-detector", ">=1.0.0 <2.0.0"),)
    for site, objects in rendered.items():
        (app,) = [d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "fraud-app"]
        (container,) = app["spec"]["template"]["spec"]["containers"]
        match = IMAGE_RE.fullmatch(container["image"])
        assert match and match["repository"] == config.model("fraud-app").repository, (site, container["image"])
        assert {"name": "INFERENCE_URL", "value": "http://fraud-detector-predictor/v2/models/fraud-detector/infer"} in container["env"], site
        assert container["securityContext"]["readOnlyRootFilesystem"] and app["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], site
        (route,) = [r for r in of_kind(objects, "Route") if r["metadata"]["name"] == "fraud-app"]
        assert route["spec"]["to"] == {"kind": "Service", "name": "fraud-app", "weight": 100}, site


# ------------------------------------------------------------------ the validators are live


def test_every_rendered_deployment_would_be_rejected_if_broken(rendered):
    deployments = [(site, d) for site, objects in rendered.items() for d in of_kind(objects, "Deployment")]
    assert len(deployments) == 10  # a model server and the application at each of the five sites
    for site, deployment in deployments:
        broken = copy.deepcopy(deployment)
        broken["spec"]["replicas"] = "three"
        assert any("replicas" in e for e in schema_errors(broken)), site
        typo = copy.deepcopy(deployment)
        typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
        assert schema_errors(typo), site  # strict: unknown fields are errors


def test_every_custom_resource_validator_rejects_a_broken_object(rendered, environments):
    route = copy.deepcopy(of_kind(rendered["cloud"], "Route")[0])
    route["spec"]["tls"]["termination"] = "sideways"
    assert any("termination" in e for e in schema_errors(route))
    del route["spec"]["tls"]["termination"]
    route["spec"]["tls"]["terminaton"] = "edge"
    assert any("terminaton" in e for e in schema_errors(route))
    application = copy.deepcopy(environments["datacenter.yaml"])
    application["spec"]["syncPolicy"]["automated"]["prune"] = "yes please"
    assert any("prune" in e for e in schema_errors(application))
    typo = copy.deepcopy(environments["cloud.yaml"])
    typo["spec"]["syncPolicy"]["automatd"] = typo["spec"]["syncPolicy"].pop("automated")
    assert any("automatd" in e for e in schema_errors(typo))  # strict: unknown fields are errors
    appset = copy.deepcopy(environments["edge-fleet.yaml"])
    del appset["spec"]["template"]["spec"]["destination"]
    assert any("destination" in e for e in schema_errors(appset))
    project = copy.deepcopy(environments["project.yaml"])
    project["spec"]["sourceRepos"] = "everything"
    assert any("sourceRepos" in e for e in schema_errors(project))
    isvc = copy.deepcopy(of_kind(rendered["edge/berlin-01"], "InferenceService")[0])
    isvc["spec"]["predictor"]["scaleMetric"] = "gpu"
    assert any("scaleMetric" in e and "'gpu' is not one of" in e for e in schema_errors(isvc))
    isvc = copy.deepcopy(of_kind(rendered["cloud"], "InferenceService")[0])
    isvc["spec"]["predictor"]["model"]["storageURI"] = isvc["spec"]["predictor"]["model"].pop("storageUri")
    assert any("storageURI" in e for e in schema_errors(isvc))  # strict: unknown fields are errors
    runtime = copy.deepcopy(of_kind(rendered["datacenter"], "ServingRuntime")[0])
    runtime["spec"]["supportedModelFormats"] = "onnx"
    assert any("supportedModelFormats" in e for e in schema_errors(runtime))
    runtime = copy.deepcopy(of_kind(rendered["datacenter"], "ServingRuntime")[0])
    runtime["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert any("imagePullPolicyy" in e for e in schema_errors(runtime))
    assert schema_errors({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}) == ["no schema for kind 'Widget'"]
    assert schema_errors({"kind": "ConfigMap"}) == [".: an object needs apiVersion and kind"]


def test_core_kinds_are_checked_strictly_by_the_configured_version(rendered):
    service = copy.deepcopy(of_kind(rendered["cloud"], "Service")[0])
    service["spec"]["ports"][0]["port"] = "http"
    assert any("spec/ports/0/port" in e for e in schema_errors(service))
    hpa = copy.deepcopy(of_kind(rendered["cloud"], "HorizontalPodAutoscaler")[0])
    hpa["spec"]["maxReplica"] = hpa["spec"].pop("maxReplicas")
    assert schema_errors(hpa)  # a required field missing, an unknown one present
    old = Schemas("1.29")
    assert old.version == "1.29" and old.check_object(of_kind(rendered["cloud"], "Deployment")[0]) == ([], None)
    flow = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "f"},
        "spec": {"priorityLevelConfiguration": {"name": "x"}},
    }
    assert old.check_object(flow)[0] == [] and Schemas("1.28").check_object(flow)[1] == "FlowSchema (flowcontrol.apiserver.k8s.io/v1)"  # v1 came in 1.29


def test_custom_resources_are_defaulted_before_they_are_checked(rendered):
    """The Route CRD requires spec.to.kind, which the API server defaults to Service: the check must do the same."""
    route = copy.deepcopy(of_kind(rendered["cloud"], "Route")[0])
    del route["spec"]["to"]["kind"]
    assert schema_errors(route) == []
    validator = product_schemas()._validator(route["apiVersion"], "Route")
    assert any("'kind' is a required property" in e.message for e in validator.iter_errors(route))  # what a check without defaulting says


def test_the_pr_check_pipeline_is_a_valid_tekton_v1_pipeline_that_fans_out_over_shards():
    (pipeline,) = load_all((PROJECT_ROOT / "environments/pipelines/pr-check.yaml").read_text())
    assert pipeline["apiVersion"] == "tekton.dev/v1" and schema_errors(pipeline) == []
    tasks = {t["name"]: t for t in pipeline["spec"]["tasks"]}
    assert tasks["validate"]["matrix"]["params"] == [{"name": "shard", "value": "$(params.shards[*])"}]
    assert 'gitops-mlops validate --shard "$SHARD"' in tasks["validate"]["taskSpec"]["steps"][0]["script"]
    assert tasks["gather"]["params"][0]["value"] == "$(tasks.validate.results.summary[*])"
    assert tasks["clone"]["taskRef"]["resolver"] == "cluster"
    broken = copy.deepcopy(pipeline)
    broken["spec"]["tasks"][1]["matrixx"] = broken["spec"]["tasks"][1].pop("matrix")
    assert any("matrixx" in e for e in schema_errors(broken))


# ------------------------------------------------------------------ init's outputs and the validate command


MIXED = ScaffoldSpec(
    models=(("churn", "registry.example.com:5000/ml/churn", "modelcar"), ("eta", "ghcr.io/acme/eta"), ("fraud", "quay.io/acme/fraud", "modelcar")),
    edge_sites=("store-1", "store-2"),
    repo_url="https://git.example.com/ml/fleet.git",
)


@pytest.mark.parametrize("spec", [ScaffoldSpec(), MIXED, FLEET], ids=["default", "mixed", "images-only"])
def test_every_object_init_writes_is_schema_valid(tmp_path, spec):
    write_layout(tmp_path, spec)
    dirs = [p.parent for p in tmp_path.rglob("kustomization.yaml") if not p.parent.is_relative_to(tmp_path / "base")]
    objects = [(d.relative_to(tmp_path).as_posix(), o) for d in dirs for o in load_all(kustomize_build(d))]
    kinds = {o["kind"] for _, o in objects}
    assert {"Application", "ApplicationSet", "AppProject", "Pipeline", "Deployment", "Route"} <= kinds
    assert ({"InferenceService", "ServingRuntime"} <= kinds) == bool(spec.modelcars)
    errors = [f"{where} {o['kind']}/{o['metadata']['name']}: {e}" for where, o in objects for e in schema_errors(o)]
    assert errors == []


def test_validate_checks_the_example_strictly_against_the_real_crds(gitops_repo):
    result = cli("validate", "--crds", str(crd_dir()), "--strict", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert all(r["ok"] and r["notChecked"] == [] for r in json.loads(result.out))
    loose = cli("validate", cwd=gitops_repo.work)  # no CRDs: the custom resources are noted, not passed
    assert loose.code == 0 and "note: InferenceService (serving.kserve.io/v1beta1) at 5 sites" in loose.err and "not checked: no schema" in loose.err
    strict = cli("validate", "--strict", cwd=gitops_repo.work)
    assert strict.code == 4 and "site cloud: Route (route.openshift.io/v1): no schema to check it against (--strict)" in strict.out


def test_validate_names_site_object_and_field_of_an_invalid_object(gitops_repo):
    path = gitops_repo.work / "base/fraud-detector/inferenceservice.yaml"
    path.write_text(path.read_text().replace("scaleMetric: cpu", "scaleMetric: gpu"))
    base = gitops_repo.work / "base/demand-forecast/deployment.yaml"
    base.write_text(base.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: five"))
    snap = tree_snapshot(gitops_repo.work)
    (gitops_repo.work / "gitops-mlops.yaml").write_text(
        (gitops_repo.work / "gitops-mlops.yaml").read_text() + f"schemas:\n  kubernetesVersion: '1.30'\n  crds:\n    - {crd_dir()}\n"
    )
    result = cli("validate", "--site", "edge/berlin-01", cwd=gitops_repo.work)
    assert result.code == 4
    (line,) = result.out.splitlines()
    assert line.startswith("FAIL  edge/berlin-01: ")
    assert "site edge/berlin-01: Deployment/demand-forecast: spec/revisionHistoryLimit: 'five' is not of type 'integer'" in line
    assert "site edge/berlin-01: InferenceService/fraud-detector: spec/predictor/scaleMetric: 'gpu' is not one of" in line
    skipped = cli("validate", "--site", "edge/berlin-01", "--no-schemas", cwd=gitops_repo.work)
    assert skipped.code == 0, skipped.err
    (gitops_repo.work / "gitops-mlops.yaml").write_text((gitops_repo.work / "gitops-mlops.yaml").read_text().replace("'1.30'", "'1.99'"))
    future = cli("validate", cwd=gitops_repo.work)
    assert future.code == 2 and "schemas.kubernetesVersion 1.99: the installed kubernetes-validate has schemas for" in future.err
    gitops_repo.git("checkout", "--", "gitops-mlops.yaml")
    assert tree_snapshot(gitops_repo.work) == snap


@pytest.mark.parametrize(
    ("write", "needle"),
    [
        (lambda d: (d / "notes.yaml").write_text("a: [b\n"), "notes.yaml: not a YAML file of CRDs"),
        (
            lambda d: (d / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"),
            "svc.yaml: Service (v1) is not a CustomResourceDefinition",
        ),
        (lambda d: (d / "empty.yaml").write_text("# nothing\n"), "empty.yaml: holds no CustomResourceDefinition"),
        (lambda d: None, "missing.yaml: no such CRD file"),
    ],
)
def test_a_crd_file_that_is_not_one_is_bad_input(gitops_repo, tmp_path, write, needle):
    write(tmp_path)
    target = next(iter(tmp_path.glob("*.yaml")), tmp_path / "missing.yaml")
    snap = tree_snapshot(gitops_repo.work)
    result = cli("validate", "--crds", str(target), cwd=gitops_repo.work)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1
    assert tree_snapshot(gitops_repo.work) == snap


def test_oc_get_crd_output_a_list_of_crds_is_read(tmp_path):
    crds = [load_all((crd_dir() / f).read_text())[0] for f in ("kserve-servingruntime-crd.yaml", "openshift-route-crd.yaml")]
    listing = tmp_path / "crds.yaml"
    listing.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": crds}))
    assert Schemas(crds=(listing,)).crd_kinds == ["Route", "ServingRuntime"]
