"""Where ``update`` finds a model's versions: the tags of its repository (``updateFrom: tags``, the
default), or the LIVE versions of its registered model in the model registry (``updateFrom:
modelRegistry``). Either way a name that is not a semantic version is skipped; the one chosen is
resolved to a digest in the OCI registry (one manifest HEAD), as a tag always was.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.config.load import Model
from gitops_mlops.core.errors import RegistryError
from gitops_mlops.core.imageref import parse_image, parse_repository
from gitops_mlops.modelregistry.client import Client
from gitops_mlops.modelregistry.versions import RegisteredVersion, live_versions, lookup
from gitops_mlops.registry import client as registry


@dataclass(frozen=True)
class Picked:
    """A version chosen for a stage: the build it names, by digest, and its registered version (if any)."""

    repository: str
    tag: str
    digest: str
    registered: RegisteredVersion | None = None

    @property
    def image(self) -> str:
        return f"{self.repository}:{self.tag}@{self.digest}" if self.tag else f"{self.repository}@{self.digest}"


class Tags:
    """The repository's tags."""

    def __init__(self, model: Model, client: registry.RegistryClient) -> None:
        self.ref, self.client = parse_repository(model.repository), client
        self.what = f"no tag of {self.ref.repository}"

    def versions(self) -> list[str]:
        return self.client.list_tags(self.ref)

    def pick(self, tag: str) -> Picked:
        return Picked(self.ref.repository, tag, self.client.head(self.ref, tag).digest)


class RegisteredVersions:
    """The LIVE versions of the model's RegisteredModel; the chosen one's artifact is the build."""

    def __init__(self, model: Model, client: registry.RegistryClient, model_registry: Client) -> None:
        self.model, self.client, self.model_registry = model, client, model_registry
        self.what = f"no LIVE version of registered model {model.registered_name!r}"

    def versions(self) -> list[str]:
        return live_versions(self.model_registry, self.model.registered_name)

    def pick(self, name: str) -> Picked:
        found = lookup(self.model_registry, self.model.registered_name, name)  # ARCHIVED since listed, or no artifact: its one line
        image = parse_image(found.image)
        digest = self.client.head(parse_repository(image.repository), image.tag or image.digest).digest
        if image.digest and digest != image.digest:
            raise RegistryError(f"version {name!r} of {found.model!r}: {image.repository}@{image.digest} answers as {digest}")
        return Picked(image.repository, image.tag, digest, found)


def source_of(model: Model, client: registry.RegistryClient, model_registry: Client | None) -> Tags | RegisteredVersions:
    if model.update_from == "modelRegistry" and model_registry is not None:
        return RegisteredVersions(model, client, model_registry)
    return Tags(model, client)
