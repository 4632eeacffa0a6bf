"""Hostile inputs of a build: what kustomize reads (contained by construction, by type, bounded) and the kustomization itself.

Each case exits with its documented code and one line, and changes nothing (testing/hostile.py).
"""

from __future__ import annotations

import pytest

from testing.hostile import (
    BOMB,
    DC,
    RENDER_DC,
    Case,
    append,
    both,
    fifo,
    generator_reads,
    link,
    promote,
    replace_in,
    run,
    secret_outside,
    silent_kustomize,
    symlinked_kustomization,
    write_bytes,
)
from testing.paths import DIGEST_B

pytestmark = pytest.mark.slow  # hostile inputs through the real command line: outside the inner loop

CASES = [
    # what a build reads: contained by construction, by type, bounded
    Case(
        "generator-file-symlink-out",
        4,
        "leave.env: a symlink that leaves the repository",
        setup=both(link("overlays/datacenter/leave.env", secret_outside), generator_reads("leave.env")),
    ),
    Case(
        "generator-file-symlink-out-render",
        4,
        "leave.env: a symlink that leaves the repository",
        RENDER_DC,
        setup=both(link("overlays/datacenter/leave.env", secret_outside), generator_reads("leave.env")),
        extra=(),
    ),
    Case(
        "generator-file-symlink-out-unused",
        4,
        "leave.env: a symlink that leaves the repository",
        RENDER_DC,
        setup=link("overlays/datacenter/leave.env", secret_outside),
        extra=(),
    ),
    Case(
        "generator-file-symlink-beside-site",
        4,
        "is not in or below",  # kustomize's own load restrictor, as in the repository: the copy it renders keeps the link
        RENDER_DC,
        setup=both(write_bytes("base/beside.env", b"A=1\n"), link("overlays/datacenter/up.env", "../../base/beside.env"), generator_reads("up.env")),
        extra=(),
    ),
    Case("base-symlink-dev-zero", 4, "zero.yaml: a symlink that leaves the repository", setup=link("base/fraud-detector/zero.yaml", "/dev/zero")),
    Case(
        "base-symlink-dev-zero-render",
        4,
        "zero.yaml: a symlink that leaves the repository",
        RENDER_DC,
        setup=link("base/fraud-detector/zero.yaml", "/dev/zero"),
        extra=(),
    ),
    Case("overlay-fifo", 4, "pipe.env: is a FIFO, not a regular file", setup=fifo("overlays/datacenter/pipe.env"), commit=False),
    Case("overlay-fifo-render", 4, "pipe.env: is a FIFO, not a regular file", RENDER_DC, setup=fifo("overlays/datacenter/pipe.env"), commit=False, extra=()),
    Case(
        "symlink-to-fifo-inside",
        4,
        "p.env: is a FIFO, not a regular file",
        RENDER_DC,
        setup=both(link("overlays/datacenter/p.env", "../../pipe"), fifo("pipe")),
        commit=False,
        extra=(),
    ),
    Case("overlay-folder-loop", 4, "loop: a symlink loop", RENDER_DC, setup=link("base/fraud-detector/loop", "."), extra=()),
    Case("generator-file-too-large", 4, "byte limit", setup=write_bytes("overlays/datacenter/big.env", b"A=" + b"x" * (16 * 1024 * 1024) + b"\n")),
    Case(
        "kustomization-is-directory", 2, "overlays/edge/x/kustomization.yaml: is a directory", setup=write_bytes("overlays/edge/x/kustomization.yaml/keep", b"")
    ),
    Case("kustomization-symlink-dev-zero", 2, "leaves the repository", setup=link(DC, "/dev/zero", replace=True)),
    Case("kustomization-symlink-inside", 2, f"{DC}: is a symlink", setup=symlinked_kustomization),
    Case(
        "config-fifo",
        2,
        "gitops-mlops.yaml: is a FIFO, not a regular file",
        setup=both(lambda r: (r.work / "gitops-mlops.yaml").unlink(), fifo("gitops-mlops.yaml")),
        commit=False,
    ),
    Case("config-symlink-dev-zero", 2, "gitops-mlops.yaml: a symlink that leaves the repository", setup=link("gitops-mlops.yaml", "/dev/zero", replace=True)),
    Case("kustomize-renders-nothing", 4, "kustomize rendered nothing", setup=silent_kustomize, commit=False),
    Case("kustomize-renders-nothing-render", 4, "kustomize rendered nothing", RENDER_DC, setup=silent_kustomize, commit=False, extra=()),
    # the kustomization itself
    Case(
        "duplicate-pins",
        2,
        "two images entries",
        args=promote(f"quay.io/example/demand-forecast:1.4.0@{DIGEST_B}", "datacenter", "demand-forecast"),
        setup=append(DC, "  - name: demand-forecast\n    digest: " + DIGEST_B + "\n"),
    ),
    Case(
        "malformed-storage-uri",
        2,
        "storageUri 'oci://quay.io/example/Fraud::1.0.0",
        setup=replace_in(DC, "value: oci://quay.io/example/fraud-detector:", "value: oci://quay.io/example/Fraud::"),
    ),
    Case("modelcar-without-inference-service", 4, "no InferenceService fraud-detector", setup=replace_in(DC, "  - ../../base/fraud-detector\n", "")),
    Case("multi-document", 2, "more than one YAML document", setup=append(DC, "---\nkind: ConfigMap\n")),
    Case("duplicate-keys", 4, "duplicate key 'namespace'", setup=append(DC, "namespace: elsewhere\n")),
    Case("anchors", 2, "anchors and aliases are not allowed", setup=append(DC, "commonAnnotations: &notes {team: ml}\n")),
    Case("merge-key", 4, "merge keys", setup=append(DC, "commonLabels:\n  <<: {team: ml}\n")),
    Case("alias-bomb", 2, "anchors and aliases are not allowed", setup=append(DC, BOMB)),
    Case("config-alias-bomb", 2, "anchors and aliases are not allowed", setup=append("gitops-mlops.yaml", "x-" + BOMB.replace("\nlol", "\nx-lol"))),
    Case("hundred-megabytes", 2, "byte limit", setup=write_bytes(DC, b"# " + b"x" * (100 * 1024 * 1024) + b"\n")),
    Case("not-utf8", 2, "not UTF-8", setup=write_bytes(DC, b"namespace: \xff\xfe\n")),
    Case("not-a-mapping", 2, "must be a mapping", setup=write_bytes(DC, b"- resources\n- images\n")),
    Case("block-scalar-digest", 2, "must be a plain string", setup=replace_in(DC, "    digest: ", "    digest: |\n      ")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_one_line_and_changes_nothing(case, fresh, http_refusing):
    run(case, fresh, http_refusing)
