"""Image references: parse, format, refuse, compare."""

from __future__ import annotations

import pytest

from gitops_mlops.core.errors import InputError
from gitops_mlops.core.imageref import (
    DEFAULT_REGISTRY,
    ImageRef,
    canonical,
    canonical_registry,
    check_registry,
    parse_image,
    parse_repository,
    same_repository,
    spellings,
)

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
        ("Quay.io/p/app", "a registry host is lowercase"),
        ("LOCALHOST:5000/m", "a registry host is lowercase"),
        ("Docker.io/library/nginx:1", "a registry host is lowercase"),
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


# ---------------------------------------------------------------- names as container runtimes resolve them


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nginx", "docker.io/library/nginx"),
        ("library/nginx", "docker.io/library/nginx"),
        ("docker.io/nginx", "docker.io/library/nginx"),
        ("docker.io/library/nginx", "docker.io/library/nginx"),
        ("index.docker.io/nginx", "docker.io/library/nginx"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx"),
        ("registry-1.docker.io/nginx", "docker.io/library/nginx"),
        ("team/app", "docker.io/team/app"),
        ("docker.io/team/app", "docker.io/team/app"),
        ("index.docker.io/team/app", "docker.io/team/app"),
        ("registry-1.docker.io/x/y", "docker.io/x/y"),
        ("docker.io/a/b/c", "docker.io/a/b/c"),
        ("quay.io/p/app", "quay.io/p/app"),
        ("quay.io/nginx", "quay.io/nginx"),  # library/ is Docker Hub's, no other registry's
        ("quay.io/library/nginx", "quay.io/library/nginx"),
        ("localhost/m", "localhost/m"),
        ("localhost:5000/m", "localhost:5000/m"),
        ("registry.example.com:5000/a/b", "registry.example.com:5000/a/b"),
        ("docker.io:443/nginx", "docker.io:443/nginx"),  # another port is another registry
        ("mirror.docker.io/nginx", "mirror.docker.io/nginx"),
    ],
)
def test_canonical_name_is_what_a_container_runtime_pulls(text, expected):
    assert canonical(text) == expected
    assert canonical(expected) == expected
    assert same_repository(text, expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"nginx:1.25@{DIGEST}", "docker.io/library/nginx"),
        ("index.docker.io/team/app:2", "docker.io/team/app"),
        (f"localhost:5000/m@{DIGEST}", "localhost:5000/m"),
        ("registry-1.docker.io/library/python:3.12-slim", "docker.io/library/python"),
    ],
)
def test_a_reference_knows_its_canonical_repository_and_keeps_its_own_spelling(text, expected):
    ref = parse_image(text)
    assert ref.canonical == expected
    assert str(ref).endswith(text.split("/", 1)[-1])  # what is written keeps the path as given


def test_the_default_registry_fills_in_but_library_is_never_written():
    ref = parse_image("nginx:1.25")
    assert (ref.registry, ref.path, ref.repository) == ("docker.io", "nginx", "docker.io/nginx")
    assert ref.canonical == "docker.io/library/nginx"


def test_tags_and_digests_do_not_make_another_repository():
    assert parse_image(f"nginx:1@{DIGEST}").canonical == parse_image("docker.io/library/nginx:2").canonical


@pytest.mark.parametrize(
    "a, b",
    [
        ("nginx", "docker.io/nginx2"),
        ("nginx", "quay.io/library/nginx"),
        ("team/app", "quay.io/team/app"),
        ("team/app", "library/team/app"),
        ("docker.io/x/y", "docker.io/library/x/y"),
        ("localhost/m", "docker.io/library/m"),
        ("localhost:5000/m", "localhost/m"),
        ("docker.io:443/nginx", "nginx"),
    ],
)
def test_different_repositories_stay_different(a, b):
    assert not same_repository(a, b)
    assert canonical(a) != canonical(b)


@pytest.mark.parametrize("text", ["Quay.io/p/app", "MODEL_IMAGE", "Team/App", "nginx:1", f"nginx@{DIGEST}", ""])
def test_what_is_not_a_repository_name_is_compared_literally(text):
    assert canonical(text) == text
    assert same_repository(text, text)
    assert not same_repository(text, "quay.io/p/app")


def test_upper_case_host_is_refused_not_folded():
    with pytest.raises(InputError, match="a registry host is lowercase"):
        parse_repository("Quay.io/p/app")
    assert not same_repository("Quay.io/p/app", "quay.io/p/app")


@pytest.mark.parametrize("host", ["index.docker.io", "registry-1.docker.io", "docker.io"])
def test_docker_hub_aliases_are_one_registry(host):
    assert canonical_registry(host) == "docker.io"
    assert canonical_registry("quay.io") == "quay.io"


@pytest.mark.parametrize("host, ok", [("quay.io", True), ("localhost:5000", True), ("docker.io", True), ("Quay.io", False), ("quay.io/x", False), ("", False)])
def test_check_registry_takes_a_lowercase_host_and_port(host, ok):
    if ok:
        assert check_registry(host) == host
    else:
        with pytest.raises(InputError) as info:
            check_registry(host)
        assert repr(host) in str(info.value) and "\n" not in str(info.value)


def test_spellings_of_a_docker_hub_name_cover_every_alias():
    assert set(spellings("nginx")) == {
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
        "index.docker.io/library/nginx",
        "registry-1.docker.io/nginx",
        "registry-1.docker.io/library/nginx",
    }
    assert spellings("docker.io/team/app")[0] == "docker.io/team/app"
    assert set(spellings("docker.io/team/app")) == {"docker.io/team/app", "team/app", "index.docker.io/team/app", "registry-1.docker.io/team/app"}
    assert spellings("quay.io/p/app") == ("quay.io/p/app",)


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
