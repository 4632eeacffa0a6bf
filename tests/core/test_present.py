"""present: the JSON/YAML dump and the fleet-sized summaries every command shares."""

from __future__ import annotations

import json

import yaml

from gitops_mlops.core.present import count, dump, grouped, short, some


def test_json_and_yaml_say_the_same_in_order():
    data = [{"site": "edge/a", "stage": "edge", "digest": None, "sites": [], "count": 2}]
    assert json.loads(dump(data, "json")) == data == yaml.safe_load(dump(data, "yaml"))
    assert dump(data, "yaml").splitlines()[0] == "- site: edge/a"  # keys keep their order
    assert dump([], "json") == "[]\n" and dump([], "yaml") == "[]\n"


def test_some_names_the_first_sites_and_counts_the_rest():
    assert some([]) == "" and some(["a"]) == "a" and some(["a", "b", "c"]) == "a, b, c"
    assert some([f"s{i}" for i in range(200)]) == "s0, s1, s2 and 197 more"


def test_grouped_keeps_the_order_keys_are_first_seen():
    assert grouped([("x", "a"), ("y", "b"), ("x", "c")]) == [("x", ["a", "c"]), ("y", ["b"])]


def test_short_digest_is_a_prefix_the_commands_accept_back():
    digest = "sha256:" + "ab" * 32
    assert short(digest) == "sha256:abababababab" and short("") == "-"


def test_yaml_never_folds_a_digest_or_an_image_onto_a_second_line():
    image = "quay.io/example/a-rather-long-repository-name/fraud-detector:1.4.0@sha256:" + "c" * 64
    text = dump([{"site": "edge/a", "digest": "sha256:" + "c" * 64, "image": image}], "yaml")
    assert f"  image: {image}\n" in text and f"  digest: sha256:{'c' * 64}\n" in text
    assert len(text.splitlines()) == 3


def test_count_says_one_site_and_three_sites():
    assert (count(1, "site"), count(3, "site"), count(0, "site")) == ("1 site", "3 sites", "0 sites")
    assert (count(1, "query", "queries"), count(2, "query", "queries")) == ("1 query", "2 queries")
