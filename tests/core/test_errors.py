"""The error tree: each class carries its documented exit code, and a message is always one line."""

from __future__ import annotations

import pytest

from gitops_mlops.core import errors


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.InputError, 2),
        (errors.PolicyError, 3),
        (errors.RenderError, 4),
        (errors.GitError, 5),
        (errors.PushRejected, 5),
        (errors.RegistryError, 6),
        (errors.RegistryUnreachable, 6),
        (errors.MonitoringError, 7),
    ],
)
def test_each_error_carries_its_documented_exit_code(cls, code):
    assert cls("x").exit_code == code
    assert issubclass(cls, errors.GitOpsError)


def test_retryable_and_unreachable_errors_are_caught_as_their_parents():
    """The pusher retries PushRejected only; callers catching GitError or RegistryError still see them."""
    with pytest.raises(errors.GitError):
        raise errors.PushRejected("remote moved on")
    with pytest.raises(errors.RegistryError):
        raise errors.RegistryUnreachable("refused")
    assert not issubclass(errors.GitError, errors.PushRejected)


def test_a_message_is_one_line_so_input_cannot_forge_output_lines():
    exc = errors.InputError("models[0].name: 'a\nError: forged line'\n")
    assert str(exc) == "models[0].name: 'a Error: forged line'"
    assert "\n" not in str(exc)


def test_a_message_keeps_its_text_otherwise():
    assert str(errors.PolicyError("  fraud-detector is on hold at edge  ")) == "fraud-detector is on hold at edge"
