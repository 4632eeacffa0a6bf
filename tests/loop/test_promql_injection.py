"""A value put into a PromQL query cannot change the query: arguments are escaped for where they stand,
and a namespace read from a render must be a Kubernetes name. Shown on a real Prometheus on loopback."""

from __future__ import annotations

import pytest

from gitops_mlops.config.checks import _ARG, Prometheus, check_query, render_query
from gitops_mlops.core.errors import InputError
from gitops_mlops.loop.prometheus import Client
from testing.cli import cli
from testing.prometheus_server import running
from testing.repos import git
from tests.loop.test_verify import with_checks

TEMPLATE = 'min by (site) (model_ok{namespace="{{args.namespace}}", site=~"{{args.site}}"})'
INJECTED = 'nope"} or label_replace(vector(1), "site", "datacenter", "", "") or model_ok{namespace="x'
DC = "overlays/datacenter/kustomization.yaml"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running(tmp_path_factory.mktemp("prometheus"), [("model_ok", {"namespace": "ml-serving", "site": "datacenter"}, [0])]) as server:
        yield server


def test_an_injected_or_vector_no_longer_changes_what_prometheus_answers(prometheus):
    provider, args = Prometheus(prometheus.address), {"namespace": INJECTED, "site": "datacenter"}
    naive = _ARG.sub(lambda m: args[m.group(1)], TEMPLATE)  # what was sent before: the value closes the matcher
    assert [s.value for s in Client().query(provider, naive)] == [1.0]  # the injection would pass a failing check
    assert Client().query(provider, render_query(TEMPLATE, args)) == []  # escaped: one (unknown) namespace, no series
    honest = render_query(TEMPLATE, {"namespace": "ml-serving", "site": "datacenter"})
    assert [s.value for s in Client().query(provider, honest)] == [0.0]


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ('x{a="{{args.namespace}}"}', 'n"} or vector(1) #', 'x{a="n\\"} or vector(1) #"}'),
        ('x{a="{{args.namespace}}"}', "back\\slash\nnew", 'x{a="back\\\\slash\\nnew"}'),
        ("x{a='{{args.namespace}}'}", "it's", "x{a='it\\'s'}"),
        ('x{a="{{args.namespace}}"}', "bell\x07", 'x{a="bell\\x07"}'),
        ('x{a="\\"{{args.namespace}}"}', "v", 'x{a="\\"v"}'),  # an escaped quote does not end the string
        ("x{a=`{{args.namespace}}`}", "raw\\n", "x{a=`raw\\n`}"),
        ("x * 0 + {{args.namespace}}", "42", "x * 0 + 42"),
    ],
)
def test_arguments_are_escaped_for_the_string_they_stand_in(template, value, expected):
    assert render_query(template, {"namespace": value}) == expected


@pytest.mark.parametrize(
    ("template", "value", "needle"),
    [
        ("x * 0 + {{args.namespace}}", "1 or vector(1)", "stands outside a quoted string"),
        ("x{a=`{{args.namespace}}`}", "a` or vector(1) or x{b=`", "holds a backtick"),
        ("x # {{args.namespace}}", "a\nvector(1)", "stands outside a quoted string"),
    ],
)
def test_an_argument_that_cannot_be_escaped_where_it_stands_is_refused(template, value, needle):
    with pytest.raises(InputError, match=needle):
        render_query(template, {"namespace": value})


def test_a_placeholder_after_a_dangling_backslash_is_refused_at_config_load():
    with pytest.raises(InputError, match="gitops-mlops.yaml:3: check 'x': .*right after a backslash"):
        check_query('x{a="\\{{args.namespace}}"}', "gitops-mlops.yaml:3: check 'x'")


def test_a_namespace_that_is_not_a_kubernetes_name_is_refused_before_any_query(gitops_repo, prometheus):
    with_checks(gitops_repo, prometheus.address, query=TEMPLATE, condition="min(result) >= 1")
    path = gitops_repo.work / DC
    path.write_text(path.read_text().replace("namespace: ml-serving", f"namespace: '{INJECTED}'"))
    gitops_repo.git("commit", "-qam", "a hostile namespace")
    gitops_repo.git("push", "-q", "origin", "main")
    refs = gitops_repo.git("for-each-ref"), git(gitops_repo.remote, "for-each-ref")
    result = cli("verify", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work)
    assert result.code == 2 and result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "site datacenter: InferenceService/fraud-detector has namespace" in lines[0] and "not a Kubernetes name" in lines[0], result.err
    assert (gitops_repo.git("for-each-ref"), git(gitops_repo.remote, "for-each-ref")) == refs and gitops_repo.git("status", "--porcelain") == ""
