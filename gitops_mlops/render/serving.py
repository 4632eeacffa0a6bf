"""KServe serving sense in a site's render, beyond what a schema can say.

An InferenceService's runtime exists (in the site's render, or listed under
``serving.clusterRuntimes`` as provided by the cluster) and supports its model format;
its deployment mode is one ``serving.deploymentModes`` allows (by any of the mode's names:
``Standard`` is ``RawDeployment``, ``Knative`` and ``Advanced`` are ``Serverless``); a modelcar model's
storageUri is ``oci://``; a canaryTrafficPercent is a percentage, and only in Serverless mode; every ServingRuntime image is pinned by digest. Each problem is
one line naming the object and the field.
"""

from __future__ import annotations

from gitops_mlops.config.load import Config
from gitops_mlops.config.rendering import DEPLOYMENT_MODES
from gitops_mlops.config.sites import matches
from gitops_mlops.core.names import DIGEST_RE

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
DEFAULT_MODE = "Serverless"  # KServe's default when the annotation is absent


def serving_errors(config: Config, site: str, objects: list[dict]) -> list[str]:
    runtimes = {_name(o): o for o in objects if o.get("kind") in ("ServingRuntime", "ClusterServingRuntime")}
    modelcars = {m.inference_service: m for m in config.models if m.artifact == "modelcar" and (not m.sites or any(matches(site, s) for s in m.sites))}
    errors = []
    for obj in objects:
        if obj.get("kind") == "InferenceService":
            errors += _inference_service(config, obj, runtimes, modelcars)
        elif obj.get("kind") in ("ServingRuntime", "ClusterServingRuntime"):
            errors += _runtime_images(obj)
    return errors


def _name(obj: dict) -> str:
    return str(((obj.get("metadata") or {}).get("name")) or "")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _inference_service(config: Config, isvc: dict, runtimes: dict[str, dict], modelcars: dict) -> list[str]:
    where = f"InferenceService/{_name(isvc)}"
    errors = []
    mode = _dict(_dict(isvc.get("metadata")).get("annotations")).get(MODE_ANNOTATION) or DEFAULT_MODE
    if DEPLOYMENT_MODES.get(mode, mode) not in {DEPLOYMENT_MODES[m] for m in config.serving.deployment_modes}:
        allowed = ", ".join(config.serving.deployment_modes)
        errors.append(f"{where}: metadata/annotations/{MODE_ANNOTATION}: deployment mode {mode} is not allowed (serving.deploymentModes: {allowed})")
    predictor = _dict(_dict(isvc.get("spec")).get("predictor"))
    if "canaryTrafficPercent" in predictor:
        errors += _canary(where, DEPLOYMENT_MODES.get(mode, mode), predictor["canaryTrafficPercent"])
    model = _dict(predictor.get("model"))
    form = _dict(model.get("modelFormat"))
    runtime_name, format_name, format_version = model.get("runtime"), form.get("name"), form.get("version")
    if runtime_name:
        runtime = runtimes.get(runtime_name)
        if runtime is None and runtime_name not in config.serving.cluster_runtimes:
            errors.append(
                f"{where}: spec/predictor/model/runtime: ServingRuntime {runtime_name} is not in the site's render nor listed under serving.clusterRuntimes"
            )
        elif runtime is not None and format_name and not _supports(runtime, format_name, format_version):
            supported = ", ".join(_formats(runtime)) or "none"
            errors.append(f"{where}: spec/predictor/model/modelFormat: runtime {runtime_name} does not support {format_name} (it supports {supported})")
    elif model and format_name and not config.serving.cluster_runtimes:
        if not any(_supports(r, format_name, format_version, auto=True) for r in runtimes.values()):
            errors.append(f"{where}: spec/predictor/model/runtime: none named, and no ServingRuntime in the site's render auto-selects {format_name}")
    car = modelcars.get(_name(isvc))
    if car is not None:
        uri = model.get("storageUri")
        if not isinstance(uri, str) or not uri.startswith("oci://"):
            errors.append(f"{where}: spec/predictor/model/storageUri: {uri!r} is not oci://: {car.name} is a modelcar")
    return errors


def _canary(where: str, mode: str, percent) -> list[str]:
    """A canaryTrafficPercent KServe can act on: Serverless mode, a whole number from 0 to 100."""
    if mode != "Serverless":
        return [f"{where}: spec/predictor/canaryTrafficPercent: KServe splits traffic between revisions only in Serverless mode, not {mode}"]
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        return [f"{where}: spec/predictor/canaryTrafficPercent: {percent!r} is not a whole number from 0 to 100"]
    return []


def _formats(runtime: dict) -> list[str]:
    entries = _dict(runtime.get("spec")).get("supportedModelFormats") or []
    return [f"{e.get('name')}" + (f" {e.get('version')}" if e.get("version") else "") for e in entries if isinstance(e, dict)]


def _supports(runtime: dict, name: str, version, auto: bool = False) -> bool:
    for entry in _dict(runtime.get("spec")).get("supportedModelFormats") or []:
        if not isinstance(entry, dict) or entry.get("name") != name or (auto and not entry.get("autoSelect")):
            continue
        if version is None or entry.get("version") is None or str(entry.get("version")) == str(version):
            return True
    return False


def _runtime_images(runtime: dict) -> list[str]:
    where = f"{runtime.get('kind')}/{_name(runtime)}"
    errors = []
    for key in ("containers", "initContainers"):
        for index, container in enumerate(_dict(runtime.get("spec")).get(key) or []):
            image = _dict(container).get("image")
            digest = image.partition("@")[2] if isinstance(image, str) else ""
            if not DIGEST_RE.match(digest):
                errors.append(f"{where}: spec/{key}/{index}/image: {image!r} is not pinned by a sha256 digest")
    return errors
