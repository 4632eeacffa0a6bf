"""Site path patterns are shell globs within a segment (``envs/qa-*``, ``clusters/*/overlays/prod``):
each shape as a repository (bare remote + clone) promoted with the real kustomize, and bad
patterns refused with one line, exit 2, nothing changed."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config import siteglob
from testing.cli import cli
from testing.repos import GitOpsRepo, make_repo_from, tree_snapshot
from tests.render.test_state_truth import BASE, D0, D1, REPO, config, pin, rendered_images

DIRS = ("envs/qa-east", "envs/qa-west", "envs/qa-", "envs/.qa-hidden", "envs/prod", "envs/qa-north/nested")
OLD, NEW = f"{REPO}:1.0.0@{D0}", f"{REPO}:1.1.0@{D1}"


def repo_with(tmp_path, sites: str, dirs=DIRS, stages=("dev", "qa", "prod")) -> GitOpsRepo:
    files = {**BASE, "gitops-mlops.yaml": config(sites, stages=stages)}
    files |= {f"{d}/kustomization.yaml": "resources:\n  - " + "../" * (d.count("/") + 1) + "base\n" + pin() for d in dirs}
    return make_repo_from(tmp_path, files)


def sites_of(repo: GitOpsRepo) -> dict[str, tuple[str, str]]:
    result = cli("status", "-o", "json", cwd=repo.work)
    assert result.code == 0, result.err
    return {row["site"]: row["stage"] for row in json.loads(result.out)}


def promote(repo: GitOpsRepo, *selectors: str):
    return cli("promote", "fraud-detector", f"{REPO}:1.1.0@{D1}", *[a for s in selectors for a in ("--to", s)], "--force-order", "--push", cwd=repo.work)


def snapshot(repo: GitOpsRepo):
    return tree_snapshot(repo.work, repo.remote)


@pytest.mark.parametrize(
    ("segment", "name", "expected"),
    [
        ("qa-*", "qa-east", ("east",)),
        ("qa-*", "qa-", ("",)),
        ("qa-*", ".qa-x", None),  # hidden: only a segment starting with '.' matches it
        ("*-*", "a-b-c", ("a-b", "c")),  # each '*' takes as much as it can, the first first
        ("edge-??", "edge-01", ()),
        ("edge-??", "edge-1", None),
        ("edge-[0-9][!a-z]", "edge-07", ()),
        ("edge-[0-9][!a-z]", "edge-0a", None),
        ("a.b", "axb", None),  # '.' is itself
    ],
)
def test_a_segment_pattern_matches_as_a_shell_glob_and_only_star_captures(segment, name, expected):
    found = siteglob.matching(segment, [name])
    assert (found[0][1] if found else None) == expected


def test_a_star_within_a_segment_names_each_site_by_what_it_matched(tmp_path):
    repo = repo_with(tmp_path, '  - path: "envs/qa-*"\n    name: "qa/{1}"\n    stage: qa\n  - path: envs/prod\n    name: prod\n')
    with pytest.raises(AssertionError, match="gitops-mlops.yaml:10: site path 'envs/qa-\\*': envs/qa- gives the name 'qa/'"):
        sites_of(repo)  # 'qa-' matches with an empty '*': a name that is no name is bad input, not skipped
    repo.git("rm", "-q", "-r", "envs/qa-")
    repo.git("commit", "-q", "-m", "drop qa-")
    repo.git("push", "-q", "origin", "main")
    assert sites_of(repo) == {"qa/east": "qa", "qa/west": "qa", "prod": "prod"}  # not .qa-hidden, not qa-north/nested
    result = promote(repo, "qa/e*")  # a selector glob over the names, as before
    assert result.code == 0, result.err
    assert rendered_images(repo, "envs/qa-east") == [NEW] and rendered_images(repo, "envs/qa-west") == [OLD]
    assert repo.remote_head() == repo.head()


def test_a_star_between_segments_and_a_stage_from_a_capture(tmp_path):
    dirs = ("clusters/east/overlays/prod", "clusters/west/overlays/prod", "clusters/east/overlays/dev", "clusters/west/overlays/qa")
    sites = '  - path: "clusters/*/overlays/*"\n    name: "{2}/{1}"\n    stage: "{2}"\n'
    repo = repo_with(tmp_path, sites, dirs=dirs)
    assert sites_of(repo) == {"dev/east": "dev", "qa/west": "qa", "prod/east": "prod", "prod/west": "prod"}
    result = promote(repo, "prod")  # a stage selector: every site the pattern gave that stage
    assert result.code == 0, result.err
    assert [rendered_images(repo, f"clusters/{c}/overlays/prod") for c in ("east", "west")] == [[NEW], [NEW]]
    assert rendered_images(repo, "clusters/east/overlays/dev") == [OLD]


def test_question_marks_and_sets_select_without_capturing(tmp_path):
    dirs = ("edge/site-01", "edge/site-02", "edge/site-1x", "edge/site-001")
    repo = repo_with(tmp_path, '  - path: "edge/site-[0-9]?"\n    stage: prod\n', dirs=dirs)
    assert sites_of(repo) == {"edge/site-01": "prod", "edge/site-02": "prod", "edge/site-1x": "prod"}
    result = promote(repo, "edge/site-0?")
    assert result.code == 0, result.err
    assert [rendered_images(repo, d) for d in dirs[:3]] == [[NEW], [NEW], [OLD]]


def test_a_stage_a_capture_gives_that_is_not_a_stage_is_refused_naming_site_and_stage(tmp_path):
    dirs = ("envs/dev/app", "envs/staging/app")
    repo = repo_with(tmp_path, '  - path: "envs/*/app"\n    name: "{1}/app"\n    stage: "{1}"\n', dirs=dirs)
    before = snapshot(repo)
    result = promote(repo, "dev/app")
    assert result.code == 2 and snapshot(repo) == before
    assert result.err.strip().splitlines()[-1] == (
        "error: gitops-mlops.yaml:10: site staging/app (envs/staging/app): stage 'staging' is not one of the stages (dev, qa, prod)"
    )


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ('  - path: "envs/**"\n    stage: qa\n', "gitops-mlops.yaml:10: site path 'envs/**': '**' is not a pattern here"),
        ('  - path: "envs/qa-[ab"\n    stage: qa\n', "gitops-mlops.yaml:10: site path 'envs/qa-[ab': '[' at 'qa-[ab' has no closing ']'"),
        ('  - path: "envs/qa-*"\n    name: "qa/{2}"\n    stage: qa\n', "gitops-mlops.yaml:11: site name 'qa/{2}' is not usable"),
        ('  - path: "envs/qa-?"\n    name: "qa"\n    stage: qa\n', "gitops-mlops.yaml:11: site name 'qa': a pattern's name needs {1}"),
        ('  - path: "envs/qa-*"\n    name: "qa/{1}"\n    stage: "{2}"\n', "gitops-mlops.yaml:12: site 'qa/{1}': stage '{2}'"),
        ('  - path: "envs/prod"\n    stage: "{1}"\n', "gitops-mlops.yaml:11: site 'envs/prod': stage '{1}'"),
    ],
)
def test_a_bad_pattern_is_one_line_exit_2_and_nothing_changed(tmp_path, sites, message):
    repo = repo_with(tmp_path, sites)
    before = snapshot(repo)
    result = promote(repo, "qa")
    assert result.code == 2 and snapshot(repo) == before
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.err
