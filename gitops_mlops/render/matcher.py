"""Which model a rendered container belongs to, at a given site: by its image's repository, or by
the model's placeholder image name (not yet pinned) at a site the model is configured for; names
compare as a container runtime resolves them (``imageref.canonical``: ``team/app`` is
``docker.io/team/app``)."""

from __future__ import annotations

from gitops_mlops.config.load import Config, Model
from gitops_mlops.config.sites import matches
from gitops_mlops.core.imageref import canonical, same_repository
from gitops_mlops.render.containers import Container


class ModelMatcher:
    """Which model a rendered container belongs to, at a given site."""

    def __init__(self, config: Config) -> None:
        self.by_repository: dict[str, list[Model]] = {}
        self.by_placeholder: dict[str, list[Model]] = {}
        for model in config.models:  # keyed by canonical names: 'team/app' is 'docker.io/team/app'
            self.by_repository.setdefault(canonical(model.repository), []).append(model)
            if not same_repository(model.image, model.repository):
                self.by_placeholder.setdefault(canonical(model.image), []).append(model)
        self._anywhere: dict[str, tuple[Model | None, bool]] = {}  # names whose model does not depend on the site
        for table, pinned in ((self.by_placeholder, False), (self.by_repository, True)):
            for name, models in table.items():
                if len(models) == 1 and not models[0].sites:
                    self._anywhere[name] = (models[0], pinned)
        self._sorted: dict[int, tuple[tuple[Container, ...], dict[str, list[Container]]]] = {}  # see by_model

    def model_of(self, site: str, repository: str) -> tuple[Model | None, bool]:
        """(model, pinned): pinned is False when the image is still the placeholder name."""
        repository = canonical(repository)
        known = self._anywhere.get(repository)
        if known is not None:
            return known
        for table, pinned in ((self.by_repository, True), (self.by_placeholder, False)):
            candidates = table.get(repository)
            if candidates:
                chosen = [m for m in candidates if not m.sites or any(matches(site, s) for s in m.sites)]
                if chosen:
                    return chosen[0], pinned
        return None, False

    def by_model(self, site: str, containers: tuple[Container, ...]) -> dict[str, list[Container]]:
        """The containers of each model at ``site``. Worked out once per tuple of containers when no
        image's model depends on the site (sites made from one template share their decoded tuple)."""
        known = self._sorted.get(id(containers))
        if known is not None and known[0] is containers:
            return {name: list(found) for name, found in known[1].items()}
        out: dict[str, list[Container]] = {}
        anywhere = True
        for container in containers:
            repository = canonical(container.repository)
            if repository not in self._anywhere and (repository in self.by_repository or repository in self.by_placeholder):
                anywhere = False
            model, _ = self.model_of(site, container.repository)
            if model is not None:
                out.setdefault(model.name, []).append(container)
        if anywhere and len(self._sorted) < 1024:
            self._sorted[id(containers)] = (containers, {name: list(found) for name, found in out.items()})
        return out
