"""The ``argocd:`` and ``forge:`` sections read on their own."""

from __future__ import annotations

import pytest

from gitops_mlops.config.services import read_argocd, read_forge
from gitops_mlops.core.errors import InputError
from gitops_mlops.yamltext.nodes import compose


def node(text: str):
    return compose(text, "gitops-mlops.yaml")


def test_absent_sections_are_none():
    assert read_argocd("gitops-mlops.yaml", None) is None and read_forge("gitops-mlops.yaml", None) is None


def test_forgejo_is_read_as_the_gitea_api_it_serves():
    forge = read_forge("gitops-mlops.yaml", node("type: forgejo\nurl: https://git.example.com\nrepository: acme/gitops\nlabels: [gitops]\n"))
    assert (forge.type, forge.url, forge.repository, forge.labels) == ("gitea", "https://git.example.com", "acme/gitops", ("gitops",))


def test_argo_cds_webhook_is_read_with_its_secret_variable():
    argocd = read_argocd("gitops-mlops.yaml", node("webhook: https://argocd.example.com/api/webhook\nsecretEnv: HOOK_SECRET\n"))
    assert (argocd.webhook, argocd.secret_env) == ("https://argocd.example.com/api/webhook", "HOOK_SECRET")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("type: sourceforge\n", "forge.type 'sourceforge' is not one of"),
        ("repository: just-a-name\n", "forge.repository 'just-a-name' is not owner/name"),
        ("url: 'https://user:pw@git.example.com'\n", "gitops-mlops.yaml:1"),
    ],
)
def test_a_bad_forge_names_its_line_and_cause(text, cause):
    with pytest.raises(InputError, match=cause):
        read_forge("gitops-mlops.yaml", node(text))
