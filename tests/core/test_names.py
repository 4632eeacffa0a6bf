"""The name patterns the tool accepts and refuses, and the branch and remote checks made before git runs."""

from __future__ import annotations

import pytest

from gitops_mlops.core import names
from gitops_mlops.core.errors import InputError


@pytest.mark.parametrize("name", ["fraud-detector", "a", "m1", "x" * 63])
def test_model_and_stage_names_are_dns_labels(name):
    assert names.NAME_RE.match(name)


@pytest.mark.parametrize("name", ["", "Fraud", "-a", "a-", "a_b", "a.b", "x" * 64, "a/b"])
def test_names_that_are_not_dns_labels_are_refused(name):
    assert not names.NAME_RE.match(name)


@pytest.mark.parametrize("site", ["datacenter", "edge/berlin-01", "clusters/prod/eu.west_1", "A/b/C"])
def test_site_names_are_path_like(site):
    assert names.SITE_NAME_RE.match(site)


@pytest.mark.parametrize("site", ["", "/edge", "edge/", "edge//x", "../etc", "edge/../x", ".hidden", "edge/-x", "a b"])
def test_site_names_that_could_leave_or_confuse_a_path_are_refused(site):
    assert not names.SITE_NAME_RE.match(site)


def test_digests_are_full_sha256_and_prefixes_are_at_least_twelve_hex_digits():
    full = "sha256:" + "a" * 64
    assert names.DIGEST_RE.match(full)
    assert not names.DIGEST_RE.match("sha256:" + "A" * 64)  # upper case is not a digest
    assert not names.DIGEST_RE.match("sha512:" + "a" * 64)
    assert names.DIGEST_PREFIX_RE.match("sha256:" + "a" * 12)
    assert not names.DIGEST_PREFIX_RE.match("sha256:" + "a" * 11)


@pytest.mark.parametrize(("text", "ok"), [("v1.2.3", True), ("1.0+build_7", True), ("-x", False), (".x", False), ("a" * 129, False), ("a b", False)])
def test_version_pattern(text, ok):
    assert bool(names.VERSION_RE.match(text)) is ok


@pytest.mark.parametrize(("host", "ok"), [("quay.io", True), ("127.0.0.1:5000", True), ("-quay.io", False), ("quay.io:", False), ("quay.io/x", False)])
def test_host_pattern(host, ok):
    assert bool(names.HOST_RE.match(host)) is ok


@pytest.mark.parametrize("branch", ["main", "promote/fraud-detector-1", "release_2.0"])
def test_valid_branches_are_returned_unchanged(branch):
    assert names.check_branch(branch) == branch


@pytest.mark.parametrize(
    ("branch", "cause"),
    [
        ("a..b", "not a valid branch name"),
        ("-x", "not a valid branch name"),
        ("x.lock", "not a valid branch name"),
        ("x/", "not a valid branch name"),
        (".x", "not a valid branch name"),
        ("a b", "not a valid branch name"),
        ("refs/heads/main", "names a ref"),
        ("HEAD", "names a ref"),
        ("FETCH_HEAD", "names a ref"),
        ("gitops-mlops/anything", "the tool's own branches"),
        ("gitops-mlops/verifications", "the tool's own branches"),
    ],
)
def test_invalid_or_reserved_branches_are_refused_naming_the_option(branch, cause):
    with pytest.raises(InputError, match=cause) as info:
        names.check_branch(branch, what="--branch")
    assert str(info.value).startswith(f"--branch {branch!r}")


def test_the_tool_may_write_its_own_branches_but_never_the_verifications_branch():
    assert names.check_branch("gitops-mlops/hydrated", tool=True) == "gitops-mlops/hydrated"
    with pytest.raises(InputError):
        names.check_branch(names.VERIFICATIONS_BRANCH, tool=True)


def test_a_reserved_branch_is_refused():
    with pytest.raises(InputError, match="tool's own branches"):
        names.check_branch("rendered", reserved=("rendered",))


@pytest.mark.parametrize("remote", ["origin", "upstream-2"])
def test_remote_names_pass(remote):
    assert names.check_remote(remote) == remote


@pytest.mark.parametrize("remote", ["", "--upload-pack=evil", "https://host/x", "a b", "c:\\x"])
def test_remotes_that_are_options_urls_or_paths_are_refused(remote):
    with pytest.raises(InputError, match="is not a remote name"):
        names.check_remote(remote)


@pytest.mark.parametrize("remote", ["../x", "/tmp/elsewhere", "./here", "~/repo.git", "a/../b"])
def test_remotes_that_are_paths_are_refused(remote):
    with pytest.raises(InputError, match="is not a remote name"):
        names.check_remote(remote)


def test_did_you_mean_names_close_matches_only():
    assert names.did_you_mean("fraud-detecter", ["fraud-detector", "recommender"]) == "; did you mean 'fraud-detector'?"
    assert names.did_you_mean("zzz", ["fraud-detector"]) == ""


@pytest.mark.parametrize(
    ("pattern", "good"),
    [
        (names.NAME_RE, "fraud"),
        (names.SITE_NAME_RE, "edge/berlin-01"),
        (names.DIGEST_RE, "sha256:" + "a" * 64),
        (names.DIGEST_PREFIX_RE, "sha256:" + "a" * 12),
        (names.VERSION_RE, "1.4.0"),
        (names.HOST_RE, "quay.io:443"),
        (names.BRANCH_RE, "main"),
    ],
)
def test_a_name_does_not_end_in_a_newline(pattern, good):
    """``$`` also matches before a last newline: a release named "fraud\\n" split its commit's trailers in two."""
    assert pattern.match(good) and not pattern.match(good + "\n")
