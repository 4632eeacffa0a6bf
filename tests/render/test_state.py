"""Reading what a render runs: the line scanner of kustomize's output agrees with the YAML
parser on every document it reads, and hands every unusual one to the parser."""

from __future__ import annotations

import pytest

from gitops_mlops.render.kustomize import Kustomize, split_documents
from gitops_mlops.render.state import Container, _parsed, _scan, containers_of
from testing.paths import PROJECT_ROOT

CRAFTED = {
    "cronjob": """apiVersion: batch/v1
kind: CronJob
metadata:
  name: retrain
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - args:
            - --epochs
            - "3"
            image: quay.io/acme/trainer:1.0@sha256:aaaa
            name: train
          initContainers:
          - image: 'quay.io/acme/fetch:2'
            name: fetch
  schedule: 0 3 * * *
""",
    "pod": """apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: a
      image: "busybox:1.36"
    - image: alpine
""",
    "block-scalar-with-a-fake-pod": """apiVersion: v1
data:
  deploy.yaml: |
    spec:
      template:
        spec:
          containers:
          - image: not-a-container
kind: ConfigMap
metadata:
  name: c
""",
    "inference-service-predictor": """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: m
spec:
  predictor:
    containers:
    - image: quay.io/acme/server:1
      name: kserve-container
""",
    "flow-containers": """kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers: [{name: a, image: x}]
""",
    "anchored-image": """kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
      - image: &i quay.io/x:1
        name: a
""",
    "comment-and-env": """kind: StatefulSet
metadata:
  name: s  # the store
spec:
  template:
    spec:
      containers:
      - env:
        - name: IMAGE
          value: "not: this"
        image: quay.io/acme/store:3  # pinned
        name: store
      volumes:
      - emptyDir: {}
        name: tmp
""",
}


def example_documents() -> list[str]:
    kustomize = Kustomize.find()
    docs = []
    for overlay in sorted(PROJECT_ROOT.glob("overlays/**/kustomization.yaml")):
        docs += split_documents(kustomize.build(overlay.parent))
    return docs


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_the_scanner_agrees_with_the_parser_or_defers(name):
    doc = CRAFTED[name]
    scanned = _scan(doc)
    assert scanned is None or scanned == _parsed(doc), (scanned, _parsed(doc))


def test_the_scanner_reads_kustomize_output_itself():
    docs = [d for d in example_documents() if "image:" in d]
    assert docs and all(_scan(d) is not None and _scan(d) == _parsed(d) for d in docs)


def test_what_the_scanner_finds():
    assert _scan(CRAFTED["cronjob"]) == [
        Container("CronJob/retrain", "train", "quay.io/acme/trainer:1.0@sha256:aaaa"),
        Container("CronJob/retrain", "fetch", "quay.io/acme/fetch:2"),
    ]
    assert _scan(CRAFTED["pod"]) == [Container("Pod/p", "a", "busybox:1.36"), Container("Pod/p", "", "alpine")]
    assert _scan(CRAFTED["block-scalar-with-a-fake-pod"]) == []
    # a KServe custom predictor's containers are a Pod spec too
    assert _scan(CRAFTED["inference-service-predictor"]) == [Container("InferenceService/m", "kserve-container", "quay.io/acme/server:1")]
    assert _scan(CRAFTED["flow-containers"]) is None and _scan(CRAFTED["anchored-image"]) is None
    assert containers_of("---\n".join(CRAFTED.values())) == tuple(c for d in CRAFTED.values() if "image:" in d for c in _parsed(d))


# ---------------------------------------------------------------- which model a container belongs to

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
    from gitops_mlops.config.load import parse_config
    from gitops_mlops.render.state import ModelMatcher

    found, is_pinned = ModelMatcher(parse_config(MODELS)).model_of("dev", rendered)
    assert (found.name if found else None, is_pinned) == (model, pinned)
