"""Image references: parse, format, refuse, compare."""

from __future__ import annotations

import pytest

from gitops_mlops.errors import InputError
from gitops_mlops.imageref import DEFAULT_REGISTRY, ImageRef, parse_image, parse_repository, same_repository

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "text",
    [
        "quay.io/example/fraud-detector",
        "quay.io/example/fraud-detector:1.4.0",
        f"quay.io/example/fraud-detector@{DIGEST}",
        f"quay.io/example/fraud-detector:1.4.0@{DIGEST}",
        f"localhost:5000/m@{DIGEST}",
        "localhost/m:v2",
        f"quay.io:443/org/app:1.2.3@{DIGEST}",
        "registry.example.com/a/b/c/model_v2:latest",
        "docker.io/library/python:3.12-slim",
    ],
)
def test_fully_qualified_reference_formats_back_to_itself(text):
    assert str(parse_image(text)) == text


@pytest.mark.parametrize("text", ["m", "m:1", f"org/m:1@{DIGEST}", f"localhost:5000/m:1.0@{DIGEST}"])
def test_parse_of_formatted_reference_is_the_same_reference(text):
    ref = parse_image(text)
    assert parse_image(str(ref)) == ref


def test_registry_port_is_not_a_tag():
    ref = parse_image(f"localhost:5000/m@{DIGEST}")
    assert ref == ImageRef(registry="localhost:5000", path="m", tag=None, digest=DIGEST)
    assert ref.repository == "localhost:5000/m"


def test_registry_port_tag_and_digest_are_all_kept_apart():
    ref = parse_image(f"quay.io:443/org/app:1.2.3@{DIGEST}")
    assert ref.registry == "quay.io:443"
    assert ref.path == "org/app"
    assert ref.tag == "1.2.3"
    assert ref.digest == DIGEST


def test_localhost_without_port_is_a_registry():
    ref = parse_image("localhost/m")
    assert (ref.registry, ref.path) == ("localhost", "m")


def test_reference_without_registry_defaults_to_docker_io():
    ref = parse_image("org/model:2.0")
    assert DEFAULT_REGISTRY == "docker.io"
    assert ref.registry == "docker.io"
    assert ref.path == "org/model"
    assert ref.tag == "2.0"
    assert ref.repository == "docker.io/org/model"


def test_first_segment_without_dot_or_port_is_part_of_the_path():
    ref = parse_image("example/model")
    assert ref.registry == "docker.io"
    assert ref.path == "example/model"


def test_bare_name_and_port_like_suffix_is_a_tag_not_a_registry():
    ref = parse_image("localhost:5000")
    assert (ref.registry, ref.path, ref.tag) == ("docker.io", "localhost", "5000")


def test_tag_of_exactly_128_characters_is_accepted():
    tag = "a" * 128
    assert parse_image(f"quay.io/p/app:{tag}").tag == tag


def test_image_ref_is_frozen():
    ref = parse_image("quay.io/p/app:1")
    with pytest.raises(AttributeError):
        ref.tag = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, cause",
    [
        ("quay.io/p/app@sha256:" + "a" * 63, "64 lowercase hex"),
        ("quay.io/p/app@sha256:" + "a" * 65, "64 lowercase hex"),
        ("quay.io/p/app@sha256:" + "A" * 64, "64 lowercase hex"),
        ("quay.io/p/app@sha256:" + "g" * 64, "64 lowercase hex"),
        ("quay.io/p/app@sha512:" + "a" * 128, "sha256"),
        ("quay.io/p/app@" + "a" * 64, "sha256"),
        ("quay.io/p/app@", "sha256"),
        ("app:", "invalid tag"),
        ("app:-x", "invalid tag"),
        ("app:.x", "invalid tag"),
        ("quay.io/p/app:" + "a" * 129, "invalid tag"),
        ("quay.io/p/app:1@2", "sha256"),
        ("quay.io/Example/app", "invalid repository path"),
        ("MyApp:1", "invalid repository path"),
        ("quay.io/p/app-", "invalid repository path"),
        ("quay.io/p//app", "invalid repository path"),
        ("quay.io/", "invalid repository path"),
        ("-bad.io/p/app", "invalid registry"),
    ],
)
def test_malformed_reference_is_refused_naming_it_and_the_cause(text, cause):
    with pytest.raises(InputError) as info:
        parse_image(text)
    message = str(info.value)
    assert repr(text) in message
    assert cause in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "text",
    [
        "",
        " quay.io/p/app",
        "quay.io/p/app ",
        "quay.io/p/app:1 0",
        "quay.io/p/app\n",
        "quay.io/p/app:1\nquay.io/evil/app:2",
        "quay.io/p/app\x00",
        "quay.io/p/app\t",
        "quay.io/p/app\r",
    ],
)
def test_empty_whitespace_or_control_characters_are_refused_on_one_line(text):
    with pytest.raises(InputError) as info:
        parse_image(text)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert "image reference" in message
    assert repr(text) in message


def test_refusal_is_an_input_error_with_exit_code_2():
    with pytest.raises(InputError) as info:
        parse_image("app:")
    assert info.value.exit_code == 2


def test_repository_must_not_carry_a_tag_or_digest():
    assert parse_repository("quay.io/p/app").repository == "quay.io/p/app"
    for text in ("quay.io/p/app:1", f"quay.io/p/app@{DIGEST}"):
        with pytest.raises(InputError, match="must not carry a tag or digest"):
            parse_repository(text)


def test_same_repository_ignores_only_the_default_registry_spelling():
    assert same_repository("docker.io/org/m", "org/m")
    assert same_repository("quay.io/p/app", "quay.io/p/app")


def test_same_repository_is_exact_about_name_prefixes():
    assert not same_repository("quay.io/p/app", "quay.io/p/app-sidecar")
    assert not same_repository("quay.io/p/app-sidecar", "quay.io/p/app")
    assert not same_repository("quay.io/p/app", "quay.io/p/ap")


def test_same_repository_treats_registry_dots_literally():
    assert not same_repository("gcr.io/p/app", "gcrXio/p/app")
    assert not same_repository("gcr.io/p/app", "gcrxio/p/app")


def test_same_repository_distinguishes_registries_and_ports():
    assert not same_repository("quay.io/p/app", "ghcr.io/p/app")
    assert not same_repository("localhost:5000/m", "localhost:5001/m")
    assert not same_repository("localhost:5000/m", "localhost/m")


def test_same_repository_of_a_tagged_reference_is_false():
    assert not same_repository("quay.io/p/app:1", "quay.io/p/app")
