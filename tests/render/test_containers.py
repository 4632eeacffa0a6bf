"""Reading what a render runs: the line scanner of kustomize's output agrees with the YAML
parser on every document it reads, and hands every unusual one to the parser."""

from __future__ import annotations

import pytest

from gitops_mlops.render.containers import Container, _parsed, _scan, containers_of, decode_containers, encode_containers, split_image
from gitops_mlops.render.kustomize import Kustomize, split_documents
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


def test_an_image_splits_into_repository_tag_and_digest():
    assert split_image("quay.io/acme/app:1.0@sha256:aa") == ("quay.io/acme/app", "1.0", "sha256:aa")
    assert split_image("localhost:5000/app@sha256:aa") == ("localhost:5000/app", "", "sha256:aa")
    assert split_image("app") == ("app", "", "")


def test_encoded_containers_decode_to_themselves():
    containers = containers_of("---\n".join(CRAFTED.values()))
    assert containers and decode_containers(encode_containers(containers)) == containers
