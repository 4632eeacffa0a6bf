"""Edge mirrors: disconnected sites pull from a registry of their own, as OpenShift's
ImageDigestMirrorSet and ``oc mirror`` arrange; a digest that is not mirrored yet fails there
with ImagePullBackOff.

A site (``sites[].mirror``) or a stage (``stages[].mirror``) names its mirror, ``HOST[:PORT]``; the
image keeps its path there (``quay.io/acme/m`` is ``HOST/acme/m`` in the mirror), and the mirror
is reached with the settings ``registries:`` gives its host. A Docker Hub name keeps its canonical
path, as ``oc mirror`` writes it: ``nginx`` and ``docker.io/nginx`` are ``HOST/library/nginx``. ``promote`` checks the digest is in
the mirror of every selected site before anything is written (exit 6 naming site and mirror);
``status --mirrors`` shows which sites lack what they run.
"""

from __future__ import annotations

from gitops_mlops.config.load import Config
from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import RegistryError, RegistryUnreachable
from gitops_mlops.core.imageref import ImageRef, parse_image
from gitops_mlops.registry import client as registry


def by_mirror(config: Config, sites) -> dict[str, list[str]]:
    """mirror host -> the names of the sites that pull from it."""
    found: dict[str, list[str]] = {}
    for site in sites:
        mirror = config.mirror_of(site)
        if mirror:
            found.setdefault(mirror, []).append(site.name)
    return found


def mirror_ref(mirror: str, image: ImageRef, digest: str | None) -> ImageRef:
    """Where ``image`` is in ``mirror``: the same path, canonical for Docker Hub (``library/nginx``)."""
    path = image.canonical.partition("/")[2]
    return ImageRef(mirror, path, digest=digest)


def check(config: Config, image: ImageRef, targets: tuple[Site, ...], insecure: tuple[str, ...] = ()) -> None:
    """Every selected site's mirror has the digest; else exit 6 naming the first site and its mirror."""
    mirrors = by_mirror(config, targets)
    if not mirrors:
        return
    with registry.RegistryClient(registry.endpoints_for(config.registries, insecure).values()) as client, registry.offline_hint("promote"):
        for mirror, names in mirrors.items():
            ref = mirror_ref(mirror, image, image.digest)
            try:
                client.confirm_digest(ref)
            except RegistryError as exc:
                more = f" (and {len(names) - 1} more sites)" if len(names) > 1 else ""
                if isinstance(exc, RegistryUnreachable):
                    raise RegistryUnreachable(f"site {names[0]}{more}: cannot check mirror {mirror} has {ref.path}@{image.digest[:19]}: {exc}") from None
                raise RegistryError(
                    f"site {names[0]}{more}: mirror {mirror} does not have {ref.path}@{image.digest[:19]}: mirror it first (oc mirror); {exc}"
                ) from None


def presence(config: Config, rows, sites: dict[str, Site]) -> dict[tuple[str, str], bool]:
    """(model, site) -> whether the site's mirror has the digest it runs, for sites with a mirror."""
    out: dict[tuple[str, str], bool] = {}
    wanted = [(row, config.mirror_of(sites[row.site])) for row in rows if row.site in sites and row.digest]
    wanted = [(row, mirror) for row, mirror in wanted if mirror]
    if not wanted:
        return out
    seen: dict[tuple[str, str, str], bool] = {}
    with registry.RegistryClient(registry.endpoints_for(config.registries).values()) as client:
        for row, mirror in wanted:
            ref = mirror_ref(mirror, parse_image(row.image), row.digest)
            key = (mirror, ref.path, row.digest)
            if key not in seen:
                try:
                    client.confirm_digest(ref)
                    seen[key] = True
                except RegistryError:
                    seen[key] = False
            out[(row.model, row.site)] = seen[key]
    return out
