"""history: promotions and rollbacks from commit trailers, and for one site from its renders."""

from __future__ import annotations

import json

from gitops_mlops.views.history import Entry, read_history
from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import one_model_repo, ship

REPO = "quay.io/example/fraud-detector"


def test_history_reads_trailers_newest_first(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter", "cloud")
    entries = read_history(gitops_repo.work, "fraud-detector")
    assert [(e.action, e.sites, e.version, e.digest) for e in entries] == [
        ("promote", ("cloud",), "1.4.0", DIGEST_B),
        ("promote", ("datacenter",), "1.4.0", DIGEST_B),
    ]
    assert read_history(gitops_repo.work, "fraud-detector", selectors=("cloud",))[0].sites == ("cloud",)
    assert len(read_history(gitops_repo.work, "fraud-detector", limit=1)) == 1


def test_history_ignores_look_alike_free_text(gitops_repo):
    gitops_repo.git("commit", "--allow-empty", "-qm", "notes: Model: fraud-detector was discussed\n\nAction: promote is great")
    assert read_history(gitops_repo.work, "fraud-detector") == []


def test_history_json_via_cli(gitops_repo):
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    import json

    result = cli("history", "fraud-detector", "-o", "json", cwd=gitops_repo.work)
    entry = json.loads(result.out)[0]
    assert set(entry) == {
        "commit",
        "date",
        "author",
        "action",
        "model",
        "version",
        "digest",
        "image",
        "stage",
        "sites",
        "registeredModel",
        "modelVersion",
        "wave",
    }
    assert entry["author"] == "Test Pipeline" and entry["commit"] == gitops_repo.head()


def test_history_bad_input(gitops_repo):
    assert cli("history", "nope", cwd=gitops_repo.work).code == 2
    assert cli("history", "fraud-detector", "--limit", "0", cwd=gitops_repo.work).code == 2


def test_an_empty_history_is_an_empty_list_and_exit_0(gitops_repo):
    result = cli("history", "fraud-detector", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0 and json.loads(result.out) == []
    result = cli("history", "fraud-detector", "--site", "edge/*", cwd=gitops_repo.work)
    assert result.code == 0 and result.out == "" and "no promotion or rollback of fraud-detector at edge/*" in result.err
    result = cli("history", "no-such-model", cwd=gitops_repo.work)
    assert result.code == 2  # a model that does not exist is still bad input


def test_a_large_promotion_folds_its_sites_trailer_and_history_knows_every_site(tmp_path):
    from testing.repos import make_gitops_repo

    names = tuple(f"site-{n:03d}" for n in range(1, 201))
    repo = make_gitops_repo(tmp_path, edge_sites=names)
    ship(repo, "1.4.0", DIGEST_B, "datacenter", "cloud", "edge")
    message = repo.git("log", "-1", "--format=%B")
    sites_lines = [line for line in message.splitlines() if line.startswith(("Sites:", " "))]
    assert max(len(line) for line in sites_lines) <= 80, "one unreadable Sites: line"
    assert sum(line.startswith(" edge/") for line in message.splitlines()) > 30  # folded onto continuation lines
    entry = read_history(repo.work, "fraud-detector", limit=1)[0]
    assert entry.sites == tuple(f"edge/{n}" for n in names)
    assert read_history(repo.work, "fraud-detector", selectors=("edge/site-200",), limit=1)[0].commit == entry.commit


def test_a_row_pinned_by_tag_alone_shows_its_tag_not_several(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    deployment = repo.work / "base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("team/app:1.0", "team/app:1.1"))
    repo.git("commit", "-qam", "app 1.1, by hand")
    promoted = cli("promote", "app", f"team/app:build-7@{DIGEST_B}", "--version", "1.5.0", "--to", "dev", cwd=repo.work)
    assert promoted.code == 0, promoted.err
    result = cli("history", "app", "--site", "dev", cwd=repo.work)
    assert result.code == 0, result.err
    rows = [line.split()[2:5] for line in result.out.splitlines()[1:]]
    assert rows == [["promote", "1.5.0", "sha256:bbbbbbbbbbbb"], ["change", "1.1", "1.1"], ["change", "1.0", "1.0"]]
    assert "several" not in result.out
    assert [e["digest"] for e in json.loads(cli("history", "app", "--site", "dev", "-o", "json", cwd=repo.work).out)] == [DIGEST_B, None, None]


def test_an_entry_knows_whether_its_sites_went_to_one_image_or_several():
    one = Entry("c", "d", "a", "change", "m", "1.1", (("team/app:1.1", ("dev",)),))
    bare = Entry("c", "d", "a", "change", "m", "", (("team/app", ("dev",)),))
    several = Entry("c", "d", "a", "rollback", "m", "", ((f"{REPO}:1.0@{DIGEST_B}", ("dev",)), (f"{REPO}:0.9@sha256:{'c' * 64}", ("prod",))))
    assert (one.digest, one.tag, one.several) == ("", "1.1", False)
    assert (bare.digest, bare.tag, bare.several) == ("", "", False)
    assert (several.digest, several.tag, several.several) == ("", "", True)


def test_a_sites_history_cut_at_n_is_the_first_n_entries_of_the_whole(tmp_path):
    """``history --site ONE -n N`` stops reading states once it has N entries: on a varied history, for
    every site and every N, the first N entries of the whole history."""
    from testing.repos import make_gitops_repo
    from tests.promote.test_rollback_fleet import EIGHT, varied_history

    repo = make_gitops_repo(tmp_path, EIGHT[:4])
    varied_history(repo)
    for site in ("edge/site-1", "edge/site-2", "edge/site-late", "cloud"):
        whole = read_history(repo.work, "fraud-detector", selectors=(site,))
        assert len(whole) > 1, site
        for n in range(1, len(whole) + 2):
            assert read_history(repo.work, "fraud-detector", selectors=(site,), limit=n) == whole[:n], (site, n)
