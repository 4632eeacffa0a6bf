"""The project's example is valid against real schemas, as a cluster would check it.

Rendered overlays (``kubectl kustomize``): Kubernetes core types against the
schemas shipped by ``kubernetes-validate``, the OpenShift Route against its CRD.
``environments/``: Argo CD Application and ApplicationSet against their CRDs; the
AppProject (no CRD in shared/) by hand. CRD schemas are checked with jsonschema,
which ignores the ``x-kubernetes-*`` keys; CEL rules (``x-kubernetes-validations``)
are not evaluated. YAML is read with PyYAML, the YAML 1.1 reading the API server uses.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import crd_dir
from test_scaffold import kustomize_build

from gitops_mlops.config import parse_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]
K8S_VERSION = kubernetes_validate.latest_version()  # the newest Kubernetes the installed package ships
CORE_KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler"}
CRDS = {
    "Route": "openshift-route-crd.yaml",
    "Application": "argocd-application-crd.yaml",
    "ApplicationSet": "argocd-applicationset-crd.yaml",
    "Pipeline": "tekton-pipeline-crd.yaml",
    "InferenceService": "kserve-inferenceservice-crd.yaml",
    "ServingRuntime": "kserve-servingruntime-crd.yaml",
}
IMAGE_RE = re.compile(r"(?P<repository>[^@]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@sha256:[0-9a-f]{64}")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 1.4 MB ApplicationSet CRD in <1 s


def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


# ------------------------------------------------------------------ validators


@cache
def crd_validator(kind: str, api_version: str = "") -> jsonschema.Draft7Validator:
    """A validator for the openAPIV3Schema of the served version (the object's, when it names one) of a CRD fixture."""
    path = crd_dir() / CRDS[kind]
    if not path.is_file():
        pytest.fail(f"{path} is missing from the CRD fixtures", pytrace=False)
    (crd,) = load_all(path.read_text())
    assert crd["kind"] == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == kind, path
    served = [v for v in crd["spec"]["versions"] if v.get("served")]
    wanted = api_version.rpartition("/")[2]
    (version,) = [v for v in served if v["name"] == wanted] if len(served) > 1 else served
    schema = _strict(_drop_nulls(version["schema"]["openAPIV3Schema"]))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _drop_nulls(schema):
    """Generated CRDs carry ``anyOf: null`` (int-or-string); in JSON Schema that key must be absent."""
    if isinstance(schema, dict):
        return {k: _drop_nulls(v) for k, v in schema.items() if v is not None}
    if isinstance(schema, list):
        return [_drop_nulls(v) for v in schema]
    return schema


def _strict(schema):
    """Unknown fields are errors, as with kubectl's default strict field validation (the API server
    would otherwise prune a typo like ``syncPolicy.automatd`` silently)."""
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        else:
            out[key] = value if key == "default" else _strict(value)
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _apply_defaults(obj, schema: dict) -> None:
    """Structural-schema defaulting, which the API server does before it validates a custom resource
    (the Route schema relies on it: ``wildcardPolicy`` defaults to ``None``)."""
    if isinstance(obj, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                _apply_defaults(obj[name], sub)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            _apply_defaults(item, schema["items"])


def crd_errors(obj: dict) -> list[str]:
    """Every schema violation of a custom resource, as 'path: message'."""
    validator = crd_validator(obj["kind"], obj.get("apiVersion", ""))
    obj = copy.deepcopy(obj)
    _apply_defaults(obj, validator.schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in validator.iter_errors(obj)]


def app_project_errors(obj: dict) -> list[str]:
    """The AppProject fields Argo CD needs, checked by hand (no CRD for it in shared/)."""
    errors = []
    if obj.get("apiVersion") != "argoproj.io/v1alpha1":
        errors.append(f"apiVersion {obj.get('apiVersion')!r}")
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        errors.append("metadata.name missing")
    repos = spec.get("sourceRepos")
    if not isinstance(repos, list) or not repos or not all(isinstance(r, str) and r for r in repos):
        errors.append("spec.sourceRepos must be a non-empty list of strings")
    destinations = spec.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        errors.append("spec.destinations must be a non-empty list")
    else:
        for d in destinations:
            if not isinstance(d, dict) or not isinstance(d.get("namespace"), str) or not (d.get("server") or d.get("name")):
                errors.append(f"spec.destinations entry {d!r} needs namespace and server or name")
    for entry in spec.get("clusterResourceWhitelist") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("group"), str) or not entry.get("kind"):
            errors.append(f"spec.clusterResourceWhitelist entry {entry!r} needs group and kind")
    return errors


def schema_errors(obj: dict) -> list[str]:
    """Validate one object by kind; an unknown kind is an error, never a pass."""
    kind = obj.get("kind")
    if kind in CORE_KINDS:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [f"{'/'.join(map(str, exc.absolute_path)) or '.'}: {exc.message}"]
        return []
    if kind in CRDS:
        return crd_errors(obj)
    if kind == "AppProject":
        return app_project_errors(obj)
    return [f"no schema for kind {kind!r}"]


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


def test_every_overlay_serves_each_model_its_way(rendered, config):
    assert sorted(rendered) == ["cloud", "datacenter", "edge/austin-01", "edge/berlin-01", "edge/singapore-01"]
    deployed = sorted(m.name for m in config.models if m.artifact == "image" and m.name != "openvino-model-server")
    for site, objects in rendered.items():
        kinds = {"Deployment", "Service", "Route"} | (set() if site.startswith("edge/") else {"HorizontalPodAutoscaler"})
        for kind in kinds:
            assert sorted(o["metadata"]["name"] for o in of_kind(objects, kind)) == deployed, (site, kind)
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
        for d in of_kind(objects, "Deployment"):
            pod = d["spec"]["template"]["spec"]
            assert d["spec"]["replicas"] == 1 and pod["nodeSelector"] == {"node-role.kubernetes.io/edge": ""}, site
            assert any(t["key"] == "node-role.kubernetes.io/edge" for t in pod["tolerations"]), site
            assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"], site


def test_datacenter_runs_on_gpus_and_cloud_autoscales_wider(rendered):
    for d in of_kind(rendered["datacenter"], "Deployment"):
        (server,) = d["spec"]["template"]["spec"]["containers"]
        assert server["resources"]["requests"]["nvidia.com/gpu"] == "1" == server["resources"]["limits"]["nvidia.com/gpu"]
        assert d["spec"]["replicas"] == 3

    def hpa_ranges(site):
        return {(h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in of_kind(rendered[site], "HorizontalPodAutoscaler")}

    assert hpa_ranges("datacenter") == {(3, 12)} and hpa_ranges("cloud") == {(2, 20)}
    for d in of_kind(rendered["cloud"], "Deployment"):
        assert "nvidia.com/gpu" not in d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]


def test_every_model_server_image_is_pinned_by_tag_and_digest(rendered, config):
    repositories = {m.name: m.repository for m in config.models}
    for site, objects in rendered.items():
        for d in of_kind(objects, "Deployment"):
            (server,) = d["spec"]["template"]["spec"]["containers"]
            match = IMAGE_RE.fullmatch(server["image"])
            assert server["name"] == "model-server" and match, (site, server["image"])
            assert match["repository"] == repositories[d["metadata"]["name"]], (site, server["image"])


def test_model_servers_are_locked_down_and_probed(rendered):
    for site, objects in rendered.items():
        for d in of_kind(objects, "Deployment"):
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


# ------------------------------------------------------------------ the validators are live


def test_every_rendered_deployment_would_be_rejected_if_broken(rendered):
    deployments = [(site, d) for site, objects in rendered.items() for d in of_kind(objects, "Deployment")]
    assert len(deployments) == 5
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
    project["spec"]["sourceRepos"] = []
    assert any("sourceRepos" in e for e in schema_errors(project))
    assert schema_errors({"kind": "ConfigMap"}) == ["no schema for kind 'ConfigMap'"]


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
