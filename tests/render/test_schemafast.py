"""The schema check's fast path: an object whose only change from one known valid is in image strings the
schema leaves unconstrained is valid without jsonschema; proven equal to the full check on generated
documents; verdicts stored in the real render cache and reused by the next change."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.change.effect import Introduced
from gitops_mlops.config.load import load_config
from gitops_mlops.render.cache import RenderCache
from gitops_mlops.render.schemafast import KnownValid, changed_values, follows_valid, image_lines, verdict_key
from testing.paths import crd_dir
from testing.schemafast_proof import BASES, IMAGE, prove_documents, schemas_for_proof

NEW = "quay.io/example/fraud-detector:1.6.0@sha256:" + "c" * 64


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    return schemas_for_proof(crd_dir(), tmp_path_factory.mktemp("crds"))


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_never_says_valid_where_the_full_check_finds_a_problem(schemas, seed):
    problems, tally = prove_documents(schemas, 1500, seed)
    assert problems == []
    assert tally["fast"] > 100 and tally["invalid"] > 300, tally  # both sides exercised: hostile changes caught, image changes decided fast
    assert tally["alike"] > 10, tally  # and other strings changed: documents of other sites of a template


def _site_document(i: int, replicas: str = "2") -> str:
    doc = BASES["deployment"].replace("  name: fraud\n", f"  name: fraud-{i}\n  namespace: serving-site-{i:04d}\n", 1)
    doc = doc.replace("    app: fraud\n  name:", f"    app: fraud\n    example.com/site: site-{i:04d}\n  name:", 1)
    return doc.replace("replicas: 2", f"replicas: {replicas}")


def test_the_objects_of_many_sites_of_one_template_are_checked_once(schemas):
    docs = [_site_document(i) for i in range(30)]
    known = KnownValid(schemas)
    assert known.check_pairs([(None, d) for d in docs]) == schemas.check_docs(docs) and known.fast == 29


def test_a_site_whose_object_differs_where_the_schema_constrains_it_is_checked_in_full(schemas):
    docs = [_site_document(0), _site_document(1, replicas="two"), _site_document(2).replace("apps/v1", "apps/v2", 1)]
    known = KnownValid(schemas)
    found = known.check_pairs([(None, d) for d in docs])
    assert found == schemas.check_docs(docs) and found.errors and known.fast == 0


def test_an_image_string_of_a_container_or_a_storage_uri_follows_a_valid_object(schemas):
    deployment = BASES["deployment"]
    assert follows_valid(schemas, deployment, deployment.replace(f"        image: {IMAGE}", f"        image: {NEW}"))
    isvc = BASES["inferenceservice"]
    assert follows_valid(
        schemas, isvc, isvc.replace("storageUri: oci://quay.io/example/fraud-detector:1.5.0", "storageUri: oci://quay.io/example/fraud-detector:1.6.0")
    )
    pod = BASES["pod"]
    assert follows_valid(schemas, pod, pod.replace("image: quay.io/example/debug:1.0.0", "image: quay.io/example/debug:1.1.0"))  # an ephemeral container


@pytest.mark.parametrize(
    "base, old, new",
    [
        ("deployment", f"image: {IMAGE}\n  labels", "image: 1.5\n  labels"),  # a number is not a string
        ("deployment", f"        image: {IMAGE}", "        image: null"),
        ("deployment", f"        image: {IMAGE}", "        image: [a]"),
        ("deployment", f"        image: {IMAGE}", '        image: "quoted"'),  # quoted: the parser decides
        ("deployment", "  replicas: 2", "  replicas: 3"),  # not an image
        ("configmap", "    image: quay.io/example/in-text:1.0.0", "    image: quay.io/example/in-text:2.0.0"),  # inside a block scalar
        ("constrained", "    image: quay.io/example/a\n", "    image: quay.io/example/b\n"),  # a pattern
        ("constrained", "  - image: quay.io/example/one", "  - image: quay.io/example/two"),  # maxLength, uniqueItems
        ("constrained", "    image: quay.io/example/x", "    image: quay.io/example/y"),  # enum, anyOf
    ],
)
def test_anything_else_is_left_to_the_full_check(schemas, base, old, new):
    doc = BASES[base]
    assert old in doc
    assert not follows_valid(schemas, doc, doc.replace(old, new, 1))


def test_a_constrained_kind_with_an_unconstrained_image_is_decided_fast(schemas):
    doc = BASES["constrained"]
    assert follows_valid(schemas, doc, doc.replace("image: quay.io/example/free:1.0.0", "image: quay.io/example/free:2.0.0"))


def test_only_image_lines_may_differ():
    assert changed_values("a: 1\nimage: x\n", "a: 1\nimage: y\n") == [1]
    assert changed_values("a: 1\nimage: x\n", "a: 2\nimage: y\n") is None
    assert changed_values("image: x\n", "image: x\nb: 1\n") is None
    assert changed_values("image: x\n", "image: x\n") is None


def test_verdicts_are_stored_in_the_render_cache_and_the_next_change_reuses_them(gitops_repo, schemas):
    deployment = BASES["deployment"]
    step = deployment.replace(f"        image: {IMAGE}", f"        image: {NEW}")
    broken = deployment.replace(f"        image: {IMAGE}", "        image: [a]")
    with RenderCache(gitops_repo.work) as cache:
        first = KnownValid(schemas, cache)
        assert first.check_pairs([(None, deployment)]).errors == () and first.fast == 0
        stored = json.loads(cache.metas([verdict_key(schemas, deployment)])[verdict_key(schemas, deployment)])
        assert stored == image_lines(deployment) and stored["kind"] == "Deployment"
        assert sorted(map(tuple, sum(stored["lines"].values(), []))) == [  # the volume's image is an object, the env entry's a value of "value"
            ("metadata", "annotations", "image"),
            ("spec", "template", "spec", "containers", 0, "image"),
            ("spec", "template", "spec", "containers", 1, "image"),
            ("spec", "template", "spec", "initContainers", 0, "image"),
        ]
        second = KnownValid(schemas, cache)
        assert second.check_pairs([(deployment, step)]).errors == () and second.fast == 1
        assert verdict_key(schemas, step) in cache.metas([verdict_key(schemas, step)])  # the next change starts from it
        found = second.check_pairs([(deployment, broken)])
        assert second.fast == 1 and found.errors and "image" in found.errors[0].path
        assert verdict_key(schemas, broken) not in cache.metas([verdict_key(schemas, broken)])


def test_a_promotion_check_finds_the_same_problems_with_the_fast_path(gitops_repo, schemas):
    config = load_config(gitops_repo.work)
    before = BASES["deployment"] + "---\n" + BASES["pod"]
    good = before.replace(f"        image: {IMAGE}", f"        image: {NEW}")
    bad = before.replace("  - image: quay.io/example/debug:1.0.0", "  - image: 12")
    with RenderCache(gitops_repo.work) as cache:
        Introduced(config, schemas, cache).errors("edge/x", None, before)  # stores the verdicts of `before`
        checks = Introduced(config, schemas, cache)
        assert checks.errors("edge/x", before, good) == [] and checks.known.fast == 1
        found = checks.errors("edge/x", before, bad)
        assert found and "ephemeralContainers/0/image" in found[0], found


def test_the_proof_holds_over_verdicts_stored_in_the_real_render_cache(gitops_repo, schemas):
    with RenderCache(gitops_repo.work) as cache:
        problems, tally = prove_documents(schemas, 400, 99, store=cache)
    assert problems == [] and tally["fast"] > 20, tally


def test_deferred_verdicts_serve_the_same_check_and_are_written_once_flushed(gitops_repo, schemas):
    deployment = _site_document(77)  # a document no other test stores a verdict for
    step = deployment.replace(f"        image: {IMAGE}", f"        image: {NEW}")
    with RenderCache(gitops_repo.work) as cache:
        known = KnownValid(schemas, cache, deferred=True)
        assert known.check_pairs([(None, deployment)]).errors == ()
        assert cache.meta(verdict_key(schemas, deployment)) is None  # not written yet
        assert known.check_pairs([(deployment, step)]).errors == () and known.fast == 1  # served from the pending verdict
        known.flush()
        assert cache.meta(verdict_key(schemas, deployment)) and cache.meta(verdict_key(schemas, step))
