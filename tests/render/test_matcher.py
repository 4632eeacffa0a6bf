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
