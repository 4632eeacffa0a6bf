"""What a rollback goes back to and writes (promote/rollbackplan.py), piece by piece: the pin put back
exactly as it was, the placeholder never gone back to, a tag-only goal reached by its digest, the hold and
the trailers written. The whole rollback, on real repositories, is in test_rollback*.py."""

from __future__ import annotations

import pytest

from gitops_mlops.change.write import FileEdit
from gitops_mlops.config.load import parse_config
from gitops_mlops.config.scaffold import initial_digest
from gitops_mlops.config.sites import Site
from gitops_mlops.core.errors import PolicyError
from gitops_mlops.gitstore import trailers
from gitops_mlops.pins.kustomization import Pin
from gitops_mlops.promote.rollbackplan import Target, commit_message, expected, pin_changes, refuse_placeholders, restore_pin, rollback_result
from gitops_mlops.render.sitehistory import State
from testing.paths import DIGEST_A, DIGEST_B

CONFIG = parse_config("models:\n- name: app\n  image: app\n  repository: quay.io/acme/app\nstages:\n- name: edge\n")
MODEL = CONFIG.model("app")
KUSTOMIZATION = "resources:\n- ../../base\nimages:\n- name: app  # the app\n  newName: quay.io/acme/app\n  newTag: 1.4.0\n  digest: " + DIGEST_B + "\n"
SITE = Site("edge/a", "overlays/edge/a", "edge")


def state(image: str, pin: Pin | None = None) -> State:
    return State("c0ffee", (image,) if image else (), pin, None)


def target(current: str, goal: str) -> Target:
    return Target(SITE, "overlays/edge/a/kustomization.yaml", "app", state(current), state(goal), KUSTOMIZATION)


def test_the_pin_goes_back_exactly_as_it_was_and_one_the_promotion_added_goes():
    before = Pin("app", new_name="quay.io/acme/app", new_tag="1.3.0", digest=DIGEST_A)
    restored = restore_pin(KUSTOMIZATION, "k.yaml", "app", before)
    assert restored == KUSTOMIZATION.replace("1.4.0", "1.3.0").replace(DIGEST_B, DIGEST_A)
    digest_only = restore_pin(KUSTOMIZATION, "k.yaml", "app", Pin("app", new_name="quay.io/acme/app", digest=DIGEST_A))
    assert "newTag" not in digest_only and f"digest: {DIGEST_A}" in digest_only and "# the app" in digest_only
    assert restore_pin(KUSTOMIZATION, "k.yaml", "app", None) == "resources:\n- ../../base\n"


def test_the_placeholder_init_wrote_is_never_gone_back_to():
    refuse_placeholders(MODEL, [target(f"quay.io/acme/app:1.4.0@{DIGEST_B}", f"quay.io/acme/app:1.3.0@{DIGEST_A}")])
    with pytest.raises(PolicyError, match="nothing released to roll back to at edge/a"):
        refuse_placeholders(MODEL, [target(f"quay.io/acme/app:1.4.0@{DIGEST_B}", f"quay.io/acme/app:1.0.0@{initial_digest('app')}")])


def test_what_the_render_must_show_the_changes_and_the_result():
    goal = target(f"quay.io/acme/app:1.4.0@{DIGEST_B}", f"quay.io/acme/app:1.3.0@{DIGEST_A}")
    assert str(expected(goal.goal)) == f"quay.io/acme/app:1.3.0@{DIGEST_A}"
    edit = FileEdit(goal.file, KUSTOMIZATION, KUSTOMIZATION.replace(DIGEST_B, DIGEST_A))
    (change,) = pin_changes([goal], {"edge/a": edit})
    assert (change.site, change.new_digest, change.new_version, change.stage, change.after) == ("edge/a", DIGEST_A, "1.3.0", "edge", edit.after)
    result = rollback_result(MODEL, [goal], ("edge/b",))
    assert (result.action, result.version, result.digest, result.changed, result.unchanged) == ("rollback", "1.3.0", DIGEST_A, ("edge/a",), ("edge/b",))


def test_the_commit_message_carries_the_rollback_trailers():
    goal = target(f"quay.io/acme/app:1.4.0@{DIGEST_B}", f"quay.io/acme/app:1.3.0@{DIGEST_A}")
    text = commit_message(MODEL, [goal], "", reason="p99 latency")
    assert "Action: rollback" in text and f"Image: quay.io/acme/app:1.3.0@{DIGEST_A}" in text and "Sites: edge/a" in text
    assert "Reason: p99 latency" in text and text.splitlines()[0] == trailers.subject("rollback", "app", "1.3.0", ["edge/a"])
