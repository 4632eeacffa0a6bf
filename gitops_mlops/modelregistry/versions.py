"""A registered model version and the artifact a promotion takes from it.

RegisteredModel (by name) -> its ModelVersion (by name) -> the version's ModelArtifacts, whose ``uri``
is what is promoted: ``oci://REPO:TAG`` for a modelcar (the model as an OCI image), an image
reference for a serving image. A name the registry does not know is bad input (exit 2); an
ARCHIVED version is refused (exit 3); a version without one usable artifact is exit 4.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.core.errors import InputError, PolicyError, RenderError
from gitops_mlops.core.httpclient import redact
from gitops_mlops.modelregistry.client import Client, ModelRegistryError

PINNABLE = ("oci://", "docker://")  # schemes of an image reference; a bare reference has none
NOT_IMAGES = ("s3://", "gs://", "hf://", "pvc://", "http://", "https://", "file://", "abfs://", "wasbs://")


@dataclass(frozen=True)
class RegisteredVersion:
    """A ModelVersion of a RegisteredModel, with the one model artifact promoted from it."""

    model: str  # the RegisteredModel's name
    model_id: str
    version: str  # the ModelVersion's name
    version_id: str
    uri: str  # the ModelArtifact's uri, as registered
    model_format: str = ""  # its modelFormatName ('' when not given)

    @property
    def image(self) -> str:
        """The artifact as an image reference (what ``promote MODEL IMAGE`` takes): the uri without its scheme."""
        for scheme in PINNABLE:
            if self.uri.startswith(scheme):
                return self.uri[len(scheme) :]
        return self.uri


def _id(entity: dict, what: str) -> str:
    value = entity.get("id")
    if not isinstance(value, str) or not value.isdigit():
        raise ModelRegistryError(f"model registry: the {what} has no id; not the model registry's API, or it changed")
    return value


def lookup(client: Client, registered_model: str, version: str) -> RegisteredVersion:
    """Find ``version`` of ``registered_model`` and the model artifact to promote; each fault one line."""
    model = client.find("registered_model", name=registered_model)
    if model is None:
        raise InputError(f"model registry: no registered model {registered_model!r} (set the model's registeredModel if it is registered by another name)")
    model_id = _id(model, f"registered model {registered_model!r}")
    found = client.find("model_version", name=version, parentResourceId=model_id)
    if found is None:
        raise InputError(f"model registry: registered model {registered_model!r} has no version {version!r}")
    version_id = _id(found, f"version {version!r} of {registered_model!r}")
    where = f"model registry: version {version!r} of {registered_model!r}"
    if found.get("registeredModelId") not in (None, model_id):
        raise ModelRegistryError(f"{where}: the registry answered a version of another model ({found.get('registeredModelId')})")
    if found.get("state") == "ARCHIVED":
        raise PolicyError(f"{where} is ARCHIVED: a retired version is not promoted (restore it to LIVE in the registry first)")
    artifacts = client.pages(f"/model_versions/{version_id}/artifacts", {"artifactType": "model-artifact"})
    usable = [a for a in artifacts if a.get("artifactType", "model-artifact") == "model-artifact" and isinstance(a.get("uri"), str) and a["uri"].strip()]
    uris = sorted({a["uri"].strip() for a in usable})
    if not uris:
        raise RenderError(f"{where} has no model artifact with a uri: nothing to promote")
    if len(uris) > 1:
        raise RenderError(redact(f"{where} has {len(uris)} model artifacts with different uris ({', '.join(uris)}): which one to promote is ambiguous"))
    uri = uris[0]
    if uri.startswith(NOT_IMAGES) or ("://" in uri and not uri.startswith(PINNABLE)):
        raise RenderError(redact(f"{where}: artifact uri {uri!r} is not an OCI image (oci://REPO:TAG or an image reference): it cannot be pinned"))
    formats = {str(a.get("modelFormatName") or "") for a in usable if a["uri"].strip() == uri}
    return RegisteredVersion(registered_model, model_id, version, version_id, uri, sorted(formats)[-1] if formats else "")


def live_versions(client: Client, registered_model: str) -> list[str]:
    """The names of the registered model's LIVE versions (ARCHIVED ones are never promoted); a model the
    registry does not know is bad input (exit 2)."""
    model = client.find("registered_model", name=registered_model)
    if model is None:
        raise InputError(f"model registry: no registered model {registered_model!r} (set the model's registeredModel if it is registered by another name)")
    model_id = _id(model, f"registered model {registered_model!r}")
    versions = client.pages(f"/registered_models/{model_id}/versions")
    return [str(v["name"]) for v in versions if isinstance(v.get("name"), str) and v.get("state", "LIVE") != "ARCHIVED"]
