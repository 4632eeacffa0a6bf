"""Which model a rendered container belongs to: any spelling of its image's name a container
runtime resolves the same way, and a placeholder name is a model's, not yet pinned."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.render.matcher import ModelMatcher

MODELS = """models:
  - name: app
    repository: docker.io/team/app
  - name: web
    image: nginx
    repository: docker.io/library/nginx
  - name: runtime
    image: model-server
    repository: quay.io/acme/runtime
stages:
  - name: dev
"""


@pytest.mark.parametrize(
    "rendered, model, pinned",
    [
        ("team/app", "app", True),
        ("docker.io/team/app", "app", True),
        ("index.docker.io/team/app", "app", True),
        ("registry-1.docker.io/team/app", "app", True),
        ("nginx", "web", True),
        ("library/nginx", "web", True),
        ("docker.io/nginx", "web", True),
        ("index.docker.io/library/nginx", "web", True),
        ("model-server", "runtime", False),  # the placeholder, not yet promoted
        ("docker.io/library/model-server", "runtime", False),
        ("quay.io/acme/runtime", "runtime", True),
        ("quay.io/team/app", None, False),
        ("docker.io/team/app2", None, False),
        ("library/team/app", None, False),
        ("localhost/nginx", None, False),
        ("Quay.io/acme/runtime", None, False),  # not a name a runtime pulls: no model's
    ],
)
def test_a_container_belongs_to_a_model_by_any_spelling_of_its_name(rendered, model, pinned):
    found, is_pinned = ModelMatcher(parse_config(MODELS)).model_of("dev", rendered)
    assert (found.name if found else None, is_pinned) == (model, pinned)


def test_what_a_matcher_remembers_is_what_it_works_out_afresh():
    """``by_model`` worked out once per tuple of containers equals a fresh matcher's answer, for
    every site, on generated configurations (models with and without sites:, shared placeholders)
    and containers (every spelling, placeholders, other images), asked in a random order."""
    import random

    from gitops_mlops.render.containers import Container

    names = ["team/app", "docker.io/team/app", "nginx", "model-server", "quay.io/acme/runtime", "quay.io/x/y", "MODEL_IMAGE"]
    for seed in range(200):
        rng = random.Random(seed)
        models = []
        for i, (image, repository) in enumerate(
            rng.sample(
                [
                    ("nginx", "docker.io/library/nginx"),
                    ("model-server", "quay.io/acme/runtime"),
                    ("MODEL_IMAGE", "docker.io/team/app"),
                    ("MODEL_IMAGE", "quay.io/x/y"),
                ],
                3,
            )
        ):
            sites = rng.choice(["", "\n    sites: [dev]", "\n    sites: [prod/*]"])
            models.append(f"  - name: m{i}\n    image: {image}\n    repository: {repository}{sites}")
        try:
            config = parse_config("models:\n" + "\n".join(models) + "\nstages:\n  - name: dev\n  - name: prod\n")
        except Exception:
            continue
        tuples = [tuple(Container("Deployment/d", f"c{j}", f"{rng.choice(names)}:1") for j in range(rng.randint(0, 4))) for _ in range(4)]
        remembering = ModelMatcher(config)
        for _ in range(30):
            site, containers = rng.choice(["dev", "prod/a", "prod", "other"]), rng.choice(tuples)
            assert remembering.by_model(site, containers) == ModelMatcher(config).by_model(site, containers), (seed, site, containers)
