"""Holds in gitops-mlops.yaml: added and released byte-exactly (golden cases), and listed by `holds`."""

from __future__ import annotations

import json

import pytest

from gitops_mlops.config.holds import add_holds, remove_holds
from gitops_mlops.config.load import Hold
from testing.cli import cli
from testing.paths import DIGEST_B, DIGEST_C
from testing.repos import ship

HOLD = Hold("fraud-detector", "edge/berlin-01", DIGEST_B)

# (config text, text after adding HOLD): releasing it again must give the first text back, byte for byte.
GOLDEN = {
    "empty flow list with a comment": (
        "models: []\nholds: []  # none yet\nstages: []\n",
        f"models: []\nholds:  # none yet\n  - model: fraud-detector\n    site: edge/berlin-01\n    digest: {DIGEST_B}\nstages: []\n",
    ),
    "empty flow list, one space before the comment": (
        "holds: [] # kept\n",
        f"holds: # kept\n  - model: fraud-detector\n    site: edge/berlin-01\n    digest: {DIGEST_B}\n",
    ),
    "no holds key at all": (
        "models: []\n",
        f"models: []\nholds:\n  - model: fraud-detector\n    site: edge/berlin-01\n    digest: {DIGEST_B}\n",
    ),
    "CRLF": (
        "models: []\r\nholds: []   # none\r\n",
        f"models: []\r\nholds:   # none\r\n  - model: fraud-detector\r\n    site: edge/berlin-01\r\n    digest: {DIGEST_B}\r\n",
    ),
    "flow list with an entry": (
        f'holds: [{{model: demand-forecast, site: cloud, digest: "{DIGEST_C}"}}]\n',
        f'holds: [{{model: demand-forecast, site: cloud, digest: "{DIGEST_C}"}}, {{model: fraud-detector, site: edge/berlin-01, digest: "{DIGEST_B}"}}]\n',
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_add_then_release_is_byte_exact(case):
    before, added = GOLDEN[case]
    assert add_holds(before, [HOLD]) == added
    after, removed = remove_holds(added, "fraud-detector", {"edge/berlin-01"})
    assert removed == [HOLD]
    if case == "no holds key at all":
        assert after == "models: []\nholds: []\n"  # the key stays, empty
    else:
        assert after == before


def test_release_keeps_the_other_holds_and_their_comments():
    text = (
        "holds:\n"
        f"  - model: fraud-detector  # rolled back on the 3rd\n    site: edge/berlin-01\n    digest: {DIGEST_B}\n"
        f"  - model: demand-forecast\n    site: cloud\n    digest: {DIGEST_C}\n"
        "stages: []\n"
    )
    after, removed = remove_holds(text, "demand-forecast", {"cloud"})
    assert len(removed) == 1
    assert after == f"holds:\n  - model: fraud-detector  # rolled back on the 3rd\n    site: edge/berlin-01\n    digest: {DIGEST_B}\nstages: []\n"


def test_holds_command_lists_what_a_rollback_held(gitops_repo):
    ship(gitops_repo, "1.3.0", DIGEST_C, "datacenter")  # a release to roll back to
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    assert cli("rollback", "fraud-detector", "--site", "datacenter", cwd=gitops_repo.work).code == 0
    result = cli("holds", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [
        {
            "model": "fraud-detector",
            "site": "datacenter",
            "stage": "datacenter",
            "digest": DIGEST_B,
            "image": f"quay.io/example/fraud-detector@{DIGEST_B}",
            "reason": json.loads(result.out)[0]["reason"],
        }
    ]
    table = cli("holds", cwd=gitops_repo.work).out.splitlines()
    assert table[0].split() == ["MODEL", "SITE", "DIGEST", "REASON"] and table[1].split()[:3] == ["fraud-detector", "datacenter", DIGEST_B[:19]]
    assert cli("holds", "--model", "demand-forecast", "-o", "json", cwd=gitops_repo.work).out.strip() == "[]"
    bad = cli("holds", "--model", "nope", cwd=gitops_repo.work)
    assert bad.code == 2 and "nope" in bad.err


@pytest.mark.parametrize("seed", range(4))
def test_holds_placed_by_the_loaded_config_tree_equal_holds_placed_alone(seed):
    """A rollback adds its holds to the config it has just loaded: the node tree that load composed
    (kept per text) places them exactly where a fresh compose does, on generated configs."""
    import random

    from gitops_mlops.config.load import composed_config, parse_config
    from gitops_mlops.core.errors import InputError

    rng = random.Random(seed)
    texts = [before for before, _ in GOLDEN.values()]
    for _ in range(60):
        shape = rng.choice(["", "holds:\n", "holds: []\n", "holds:\n  - {model: m, site: s, digest: d}\n"])
        tail = rng.choice(["", "stages: []\n", "# a comment\n"])
        texts.append(
            "models: []\n"
            + shape
            + "".join(f"  - model: m{i}\n    site: s{i}\n    digest: d{i}\n" for i in range(rng.randint(0, 3)) if shape == "holds:\n")
            + tail
        )
    for text in texts:
        holds = [Hold("fraud-detector", f"edge/site-{n}", DIGEST_B, rng.choice(["", "rolled back: a reason"])) for n in range(rng.randint(1, 4))]
        composed_config.cache_clear()
        alone = add_holds(text, holds)
        try:
            parse_config(text)
        except InputError:  # a generated config the loader refuses (no stages): its tree is kept all the same
            pass
        assert add_holds(text, holds) == alone, text
