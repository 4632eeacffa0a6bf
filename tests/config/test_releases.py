"""releases: and requires: in gitops-mlops.yaml: models that move together; every fault names file:line."""

from __future__ import annotations

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.releases import Release, parse_label
from gitops_mlops.core.errors import InputError

CONFIG = """\
models:
  - name: fraud-detector
    repository: quay.io/example/fraud-detector
  - name: openvino-model-server
    repository: quay.io/example/ovms
  - name: fraud-app
    repository: quay.io/example/fraud-app
    requires:
      fraud-detector: ">=1.4.0 <2.0.0"
  - name: churn
    repository: quay.io/example/churn
stages:
  - name: dev
releases:
  - name: fraud
    members: [fraud-detector, openvino-model-server, fraud-app]
"""


def test_releases_and_requires_are_read():
    config = parse_config(CONFIG)
    assert config.releases == (Release("fraud", ("fraud-detector", "openvino-model-server", "fraud-app")),)
    assert config.releases[0].where == "gitops-mlops.yaml:15"
    assert config.release_of("fraud-app").name == "fraud"
    assert config.release_of("churn") is None
    assert config.model("fraud-app").requires == (("fraud-detector", ">=1.4.0 <2.0.0"),)
    assert parse_config(CONFIG.split("releases:")[0]).releases == ()


def test_an_unknown_release_is_bad_input_naming_the_known_ones():
    with pytest.raises(InputError, match=r"unknown release 'frud'; did you mean 'fraud'\?"):
        parse_config(CONFIG).release("frud")


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("  - name: fraud2\n    members: [churn, fraud-app]\n", r"^gitops-mlops.yaml:18: model 'fraud-app' is in two releases: 'fraud' and 'fraud2'"),
        ("  - name: other\n    members: [churn, churn]\n", r"^gitops-mlops.yaml:18: release 'other': model 'churn' is named twice$"),
        ("  - name: other\n    members: [chrun]\n", r"^gitops-mlops.yaml:18: release 'other': unknown model 'chrun'; did you mean 'churn'\?"),
        ("  - name: fraud\n    members: [churn]\n", r"^gitops-mlops.yaml:17: release 'fraud' is defined twice$"),
        ("  - name: other\n    members: []\n", r"^gitops-mlops.yaml:18: release 'other' needs at least one model"),
        ("  - name: other\n    members: [churn]\n    stage: dev\n", r"^gitops-mlops.yaml:19: unknown key 'stage' in release"),
        (
            '  - name: "other\\n"\n    members: [churn]\n',
            r"^gitops-mlops.yaml:17: release.name 'other\\n' is not a valid name",
        ),  # it split the commit's trailers
    ],
)
def test_bad_releases_are_one_line_with_file_and_line(tail, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_config(CONFIG + tail)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("requires", "message"),
    [
        ('fraud-detector: ">=1.4 <2"', r"^gitops-mlops.yaml:9: model 'fraud-app': requires.fraud-detector: constraint '>=1.4 <2'"),
        ('fraud-detctor: ">=1.4.0"', r"^gitops-mlops.yaml:6: model 'fraud-app' requires unknown model 'fraud-detctor'; did you mean 'fraud-detector'\?"),
        ('fraud-app: ">=1.0.0"', r"^gitops-mlops.yaml:9: model 'fraud-app' requires itself"),
        ('fraud-detector: ""', r"^gitops-mlops.yaml:9: model 'fraud-app': requires.fraud-detector must be a semver range"),
    ],
)
def test_a_requirement_that_does_not_parse_is_bad_input(requires, message):
    text = CONFIG.replace('fraud-detector: ">=1.4.0 <2.0.0"', requires)
    with pytest.raises(InputError, match=message):
        parse_config(text)


def test_requires_label_names_an_image_label():
    labelled = CONFIG.replace("    repository: quay.io/example/ovms\n", "    repository: quay.io/example/ovms\n    requiresLabel: io.example.requires\n")
    assert parse_config(labelled).model("openvino-model-server").requires_label == "io.example.requires"
    assert parse_config(CONFIG).model("openvino-model-server").requires_label == ""
    with pytest.raises(InputError, match=r"^gitops-mlops.yaml:6: model.requiresLabel 'not a label' is not a valid name$"):
        parse_config(labelled.replace("io.example.requires", "'not a label'"))
    with pytest.raises(InputError, match=r"is not a valid name$"):
        parse_config(labelled.replace("io.example.requires", '"io.example.requires\\n"'))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("fraud-detector", r"'fraud-detector' is not 'MODEL RANGE'"),
        ("fraud-detectr >=1.0.0", r"requires unknown model 'fraud-detectr'"),
        ("fraud-detector banana", r"requires fraud-detector: constraint 'banana'"),
        ("fraud-app >=1.0.0", r"model 'fraud-app' requires itself"),
        ("churn >=1.0.0; churn >=2.0.0", r"model 'churn' is named twice"),
        (";".join(["churn >=1.0.0"] * 65), r"more than 64 requirements"),
        ("churn " + ">" * 200_000, r"longer than 4096 characters"),
        ("churn >=1.0.0 " + "x" * 3000, r"requires churn: constraint '>=1\.0\.0 x{72}'\.\.\.: 'x{80}'\.\.\. is not"),
    ],
)
def test_a_label_value_that_does_not_parse_is_bad_input_naming_the_image_and_label(text, match):
    names = ["fraud-detector", "fraud-app", "churn"]
    with pytest.raises(InputError, match=r"^image app:1 label l: .*" + match) as raised:
        parse_label(text, "image app:1 label l", "fraud-app", names)
    assert len(str(raised.value)) < 400  # an untrusted label is never echoed whole
    assert parse_label("fraud-detector >=1.4.0 <2.0.0; churn >=1.0.0", "w", "fraud-app", names) == (
        ("fraud-detector", ">=1.4.0 <2.0.0"),
        ("churn", ">=1.0.0"),
    )
