"""The problems a change introduces: only documents the change touched are checked, a problem the
site had before is not blamed on the change, and sites sharing their outputs are checked once."""

from __future__ import annotations

import hashlib

from gitops_mlops.change.effect import Introduced, introduced_errors
from gitops_mlops.config.load import parse_config
from gitops_mlops.render.schemas import Schemas
from gitops_mlops.render.state import SiteRender

CONFIG = parse_config("models:\n  - name: m\n    repository: quay.io/example/m\nstages:\n  - name: edge\n")
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: m\nspec:\n  ports:\n  - port: 80\n"


def deployment(image: str, replicas: str = "1") -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: m\nspec:\n"
        f"  replicas: {replicas}\n  selector:\n    matchLabels: {{app: m}}\n  template:\n    metadata:\n      labels: {{app: m}}\n"
        f"    spec:\n      containers:\n      - name: m\n        image: {image}\n"
    )


def output(*docs: str) -> str:
    return "---\n".join(docs)


def render(site: str, text: str) -> SiteRender:
    return SiteRender(site, "key-" + site, (), hashlib.sha256(text.encode()).hexdigest(), output=text)


class CountingSchemas(Schemas):
    def __init__(self) -> None:
        super().__init__("1.30")
        self.checked: list[str] = []

    def check_docs(self, docs):
        self.checked += docs
        return super().check_docs(docs)


def test_a_change_that_breaks_a_document_is_found_and_one_that_was_broken_before_is_not_blamed():
    schemas = Schemas("1.30")
    good, bad = output(SERVICE, deployment("a:1")), output(SERVICE, deployment("a:2", replicas="many"))
    (error,) = introduced_errors(CONFIG, schemas, "edge/x", good, bad)
    assert "Deployment/m: spec/replicas: 'many' is not of type 'integer'" in error
    assert introduced_errors(CONFIG, schemas, "edge/x", output(SERVICE, deployment("a:1", replicas="many")), bad) == []
    assert introduced_errors(CONFIG, schemas, "edge/x", good, output(SERVICE, deployment("a:2"))) == []
    assert introduced_errors(CONFIG, schemas, "edge/x", None, bad) == [error]  # nothing before: every problem is new


def test_sites_sharing_their_outputs_are_split_and_checked_once():
    schemas = CountingSchemas()
    checks = Introduced(CONFIG, schemas)
    before, after = output(SERVICE, deployment("a:1")), output(SERVICE, deployment("a:2", replicas="many"))
    found = [checks.introduced(f"edge/s{n}", render(f"s{n}", before), render(f"s{n}", after)) for n in range(50)]
    assert all(f == found[0] and len(f) == 1 for f in found)
    # the touched document, then (it has a problem) the earlier output's documents: once for the 50 sites
    assert schemas.checked == [deployment("a:2", replicas="many"), SERVICE, deployment("a:1")]
    other = checks.introduced("edge/t", render("t", before), render("t", output(SERVICE, deployment("a:3"))))
    assert other == [] and schemas.checked[3:] == [deployment("a:3")]  # another output is checked on its own
