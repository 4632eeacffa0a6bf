"""The line scanner reads kustomize's block form and nothing else: what it cannot read plainly it
hands to the parser (None), never guesses. Its agreement with the parser is proven on generated
fleets (``testing/fastpath_proof.py``) and on crafted documents (``test_containers.py``)."""

from __future__ import annotations

import pytest

from gitops_mlops.render.blockscan import scalar, scan

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - image: quay.io/acme/web:1@sha256:aa
        name: web
        args:
        - |
          image: not-this-one
      - name: side
        image: 'busybox:1'
      initContainers:
      - image: alpine
"""


def test_the_scanner_reads_every_container_of_a_pod_template():
    assert scan(DEPLOYMENT) == [
        ("Deployment/web", "web", "quay.io/acme/web:1@sha256:aa"),
        ("Deployment/web", "side", "busybox:1"),
        ("Deployment/web", "", "alpine"),
    ]


@pytest.mark.parametrize(
    "change",
    [
        ("image: alpine", "image: &a alpine"),  # an anchor
        ("image: alpine", 'image: "al\\x70ine"'),  # an escape
        ("      containers:\n", "      containers: []\n      x:\n"),  # a flow list where containers are
        ("name: web\n", "name: web\t\n"),  # a tab
        ("kind: Deployment\n", "kind: Deployment\r\n"),  # CR
    ],
)
def test_what_is_not_the_block_form_is_left_to_the_parser(change):
    assert scan(DEPLOYMENT.replace(*change, 1)) is None


def test_a_scalar_is_plain_or_simply_quoted():
    assert scalar("quay.io/a:1 # note") == "quay.io/a:1"
    assert scalar("'a:b'") == "a:b" and scalar('"a"') == "a"
    assert scalar("'it''s'") is None and scalar('"a\\n"') is None and scalar("a b") is None
