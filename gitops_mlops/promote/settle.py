"""The image of a promotion, settled in its registry before anything is written: a tag becomes its
digest, a digest is confirmed to exist (unless ``--no-verify``). Shared by ``promote`` and
``promote --release``; the request comes back with ``registry_checked`` set, so a retried
promotion does not ask again."""

from __future__ import annotations

from dataclasses import replace

from gitops_mlops.change.intents import PromoteRequest
from gitops_mlops.config.load import Config
from gitops_mlops.core import settings
from gitops_mlops.core.errors import RegistryUnreachable
from gitops_mlops.core.imageref import ImageRef
from gitops_mlops.registry import client as registry


def settle_image(config: Config, image: ImageRef, request: PromoteRequest) -> PromoteRequest:
    """Ask the registry before anything is written: a tag becomes its digest; a digest must exist.

    A tag without a digest always needs the registry. A digest is checked in its registry
    (HTTPS, anonymous or with the credentials configured for it; any registry the policy
    allows, listed under ``registries:`` or not) unless ``--no-verify`` (or
    GITOPS_MLOPS_NO_VERIFY) says not to.
    """
    endpoints = registry.endpoints_for(config.registries, request.insecure_registries)
    if image.digest and (not request.verify or settings.no_verify()):
        return request
    with registry.RegistryClient(endpoints.values()) as client:
        if image.digest:
            with registry.offline_hint("promote"):
                client.confirm_digest(image)
            return replace(request, registry_checked=True)
        try:
            found = client.resolve(image)
        except RegistryUnreachable as exc:
            raise RegistryUnreachable(
                f"{exc}; a tag is resolved in its registry: to promote without it, name the digest (IMAGE:TAG@sha256:...) and pass --no-verify"
            ) from None
    return replace(request, image=str(replace(image, digest=found.digest)), registry_checked=True)
