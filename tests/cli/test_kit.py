"""The command line as people meet it: help with examples, readable placeholders, completion,
plain output off a terminal, and one vocabulary in JSON and YAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from gitops_mlops.cli.main import app  # the commands register as the command line is imported
from testing.cli import cli
from testing.paths import status_row_keys

COMMANDS = sorted(c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands)


def test_every_command_is_listed():
    assert {"init", "promote", "update", "rollback", "release-hold", "hydrate", "push", "status", "history", "diff", "validate"} <= set(COMMANDS)
    assert {"render", "holds", "check", "add-site", "remove-site", "sites", "models"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_no_boxes(command, tmp_path):
    result = cli(command, "--help", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "Examples:" in result.out and f"$ gitops-mlops {command}" in result.out
    assert "<list" not in result.out and "[default: []]" not in result.out
    assert not any(ch in result.out for ch in "╭╮╰╯│─"), "box drawing in help off a terminal"


def test_every_option_has_help_and_every_value_a_readable_placeholder():
    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts[0]}: no help"
                if not param.is_flag and param.name != "output":
                    assert param.metavar and param.metavar == param.metavar.upper(), f"{name} {param.opts[0]}: metavar {param.metavar!r}"
            else:
                assert param.metavar and param.metavar.isupper(), f"{name} argument {param.name}: metavar {param.metavar!r}"


def test_no_color_and_no_boxes_even_for_usage_errors(tmp_path):
    result = cli("promote", cwd=tmp_path, env={"NO_COLOR": "1"})
    assert result.code == 2
    assert "\x1b[" not in result.err and not any(ch in result.err for ch in "╭╮╰╯│")
    assert "Missing argument 'MODEL'" in result.err


def test_version_names_python_git_and_the_kustomize_in_use(tmp_path):
    result = cli("--version", cwd=tmp_path)
    lines = result.out.splitlines()
    assert result.code == 0 and lines[0].startswith("gitops-mlops ") and lines[1].startswith("python ")
    assert lines[2].startswith("git version") and "kustomize" in lines[3] and "/" in lines[3]


def complete(words: str, cwd) -> list[str]:
    """Ask the real program for completions as bash does (Typer's protocol)."""
    env = {
        **os.environ,
        "_GITOPS_MLOPS_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    proc = subprocess.run([sys.executable, "-m", "gitops_mlops"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return proc.stdout.split()


def test_completion_offers_model_and_site_names(gitops_repo):
    assert complete("gitops-mlops promote fr", gitops_repo.work) == ["fraud-detector"]
    sites = complete("gitops-mlops status --site edge/", gitops_repo.work)
    assert sites == ["edge/austin-01", "edge/berlin-01", "edge/singapore-01"]
    assert "cloud" in complete("gitops-mlops rollback fraud-detector --site c", gitops_repo.work)
    assert complete("gitops-mlops promote fr", gitops_repo.work.parent) == []  # no repository: nothing, no error


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_one_vocabulary_in_json_and_yaml(gitops_repo, fmt):
    load = json.loads if fmt == "json" else yaml.safe_load
    sites = load(cli("sites", "-o", fmt, cwd=gitops_repo.work).out)
    assert sites[0] == {"site": "datacenter", "stage": "datacenter", "path": "overlays/datacenter"}
    models = load(cli("models", "-o", fmt, cwd=gitops_repo.work).out)
    assert models[0]["model"] == "fraud-detector" and models[0]["repository"] == "quay.io/example/fraud-detector"
    rows = load(cli("status", "-o", fmt, cwd=gitops_repo.work).out)
    row = rows[0]
    assert set(row) == status_row_keys()
    assert row["digest"].startswith("sha256:") and len(row["digest"]) == 71 and row["image"].endswith("@" + row["digest"])
    assert load(cli("history", "fraud-detector", "-o", fmt, cwd=gitops_repo.work).out) == []
    assert load(cli("holds", "-o", fmt, cwd=gitops_repo.work).out) == []


def test_a_table_shows_control_characters_escaped(gitops_repo):
    """Trailers anyone can write (a version, a wave) reach the history table: no terminal escape passes whole."""
    from testing.paths import DIGEST_B

    message = (
        "by hand\n\nModel: fraud-detector\nModel-Version: 1\x1b]0;title\x07\nImage: quay.io/example/fraud-detector@"
        f"{DIGEST_B}\nSites: cloud\nAction: promote\nWave: \x1b[2J2/3\n"
    )
    gitops_repo.git("commit", "-q", "--allow-empty", "-m", message)
    result = cli("history", "fraud-detector", cwd=gitops_repo.work)
    assert result.code == 0, result.err
    assert "\x1b" not in result.out and "\x07" not in result.out
    assert "1\\x1b]0;title\\x07" in result.out
