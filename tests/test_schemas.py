"""Everything the project generates is valid against real schemas.

Kubernetes core types against the schemas shipped by ``kubernetes-validate``;
Argo CD Application/ApplicationSet and OpenShift Route against the real CRDs in
``../shared/crds`` (their openAPIV3Schema, with jsonschema).
"""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from conftest import PROJECT_ROOT, SHARED
from gitops_mlops.config import load_config
from gitops_mlops.kustomize import render_sites, split_documents
from gitops_mlops.sites import discover_sites

K8S_VERSION = kubernetes_validate.latest_version()
CRDS = SHARED / "crds"
_yaml = YAML(typ="safe", pure=True)


def _crd_schema(file: str, kind: str) -> dict:
    if not CRDS.is_dir():
        pytest.fail(f"{CRDS} is missing: the project is checked out beside shared/", pytrace=False)
    for doc in _yaml.load_all((CRDS / file).read_text()):
        if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            version = next(v for v in doc["spec"]["versions"] if v.get("served"))
            return _drop_nulls(version["schema"]["openAPIV3Schema"])
    raise AssertionError(f"no CRD for {kind} in {file}")


def _drop_nulls(schema):
    """The generated Route CRD carries `anyOf: null` (int-or-string); JSON Schema wants it absent."""
    if isinstance(schema, dict):
        return {k: _drop_nulls(v) for k, v in schema.items() if v is not None}
    if isinstance(schema, list):
        return [_drop_nulls(v) for v in schema]
    return schema


CRD_SCHEMAS = {
    "Route": ("openshift-route-crd.yaml", "Route"),
    "Application": ("argocd-application-crd.yaml", "Application"),
    "ApplicationSet": ("argocd-applicationset-crd.yaml", "ApplicationSet"),
}


@pytest.fixture(scope="module")
def schemas() -> dict:
    return {kind: _crd_schema(file, name) for kind, (file, name) in CRD_SCHEMAS.items()}


def _apply_defaults(obj, schema) -> None:
    """Structural-schema defaulting, as the API server does before it validates a custom resource."""
    if not isinstance(obj, dict):
        return
    for name, sub in (schema.get("properties") or {}).items():
        if name not in obj and "default" in sub:
            obj[name] = copy.deepcopy(sub["default"])
        if name in obj:
            _apply_defaults(obj[name], sub)


def validate_object(obj: dict, schemas: dict) -> None:
    kind = obj["kind"]
    if kind in schemas:
        obj = copy.deepcopy(obj)
        _apply_defaults(obj, schemas[kind])
        jsonschema.validate(obj, schemas[kind], cls=jsonschema.Draft7Validator)
    elif kind == "AppProject":
        assert obj["apiVersion"] == "argoproj.io/v1alpha1"
        assert obj["metadata"]["name"] and obj["spec"]["sourceRepos"] and obj["spec"]["destinations"]
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    config = load_config(PROJECT_ROOT)
    sites = discover_sites(PROJECT_ROOT, config)
    results = render_sites(PROJECT_ROOT, sites)
    assert all(r.ok for r in results.values()), [r.error for r in results.values() if not r.ok]
    return {name: [_yaml.load(doc) for doc in split_documents(r.output)] for name, r in results.items()}


def test_every_rendered_overlay_is_schema_valid(rendered, schemas):
    kinds = set()
    for site, objects in rendered.items():
        for obj in objects:
            validate_object(obj, schemas)
            kinds.add(obj["kind"])
    assert kinds == {"Deployment", "Service", "HorizontalPodAutoscaler", "Route"}


def test_every_environments_file_is_schema_valid(schemas):
    files = sorted((PROJECT_ROOT / "environments").glob("*.yaml"))
    kinds = []
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        obj = _yaml.load(path.read_text())
        validate_object(obj, schemas)
        kinds.append(obj["kind"])
    assert sorted(kinds) == ["AppProject", "Application", "Application", "ApplicationSet"]


def test_the_validators_reject_broken_objects(rendered, schemas):
    deployment = copy.deepcopy(next(o for o in rendered["datacenter"] if o["kind"] == "Deployment"))
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    route = copy.deepcopy(next(o for o in rendered["cloud"] if o["kind"] == "Route"))
    route["spec"]["to"]["weight"] = "heavy"
    with pytest.raises(jsonschema.ValidationError):
        validate_object(route, schemas)
    application = _yaml.load((PROJECT_ROOT / "environments/datacenter.yaml").read_text())
    application["spec"]["syncPolicy"]["automated"]["prune"] = "yes please"
    with pytest.raises(jsonschema.ValidationError):
        validate_object(application, schemas)


def test_sites_differ_as_their_hardware_does(rendered):
    def deployments(site):
        return [o for o in rendered[site] if o["kind"] == "Deployment"]

    for d in deployments("datacenter"):
        resources = d["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources["requests"]["nvidia.com/gpu"] == "1" and d["spec"]["replicas"] == 3
    assert any(o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["maxReplicas"] == 20 for o in rendered["cloud"])
    for site in ("edge/berlin-01", "edge/austin-01", "edge/singapore-01"):
        assert not any(o["kind"] == "HorizontalPodAutoscaler" for o in rendered[site])
        for d in deployments(site):
            spec = d["spec"]["template"]["spec"]
            assert d["spec"]["replicas"] == 1 and "node-role.kubernetes.io/edge" in spec["nodeSelector"] and spec["tolerations"]


def test_every_model_server_image_is_pinned_with_tag_and_digest(rendered):
    import re

    config = load_config(PROJECT_ROOT)
    repos = {m.repository for m in config.models}
    for site, objects in rendered.items():
        images = [c["image"] for o in objects if o["kind"] == "Deployment" for c in o["spec"]["template"]["spec"]["containers"]]
        assert len(images) == len(repos), site
        for image in images:
            assert re.fullmatch(r"(.+):(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", image) and image.split(":")[0] in repos


def test_security_context_and_probes(rendered):
    for objects in rendered.values():
        for d in (o for o in objects if o["kind"] == "Deployment"):
            pod = d["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            container = pod["containers"][0]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
            assert container["resources"]["limits"] and container["resources"]["requests"]
