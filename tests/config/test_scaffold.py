"""The scaffold renders a valid, buildable layout, and the project root's example is its default output."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.scaffold import ScaffoldSpec, edge_site_names, initial_digest, render_layout, write_layout
from gitops_mlops.core.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ("gitops-mlops.yaml", "base", "overlays", "environments")
FILES_PER_MODEL = 5  # base/<model>/: kustomization, deployment, service, hpa, route
FIXED_FILES = (
    1 + 2 + 9
)  # gitops-mlops.yaml; datacenter and cloud overlays; environments/ (with the pr-check and model-build pipelines, the promote and rollout Tasks)


def kustomize_build(path: Path) -> str:
    """Render a kustomization directory with the real kustomize.

    Found as the tool finds it (DESIGN.md): ``kustomize build``, else ``oc kustomize``,
    else ``kubectl kustomize``. Raises when none is installed (these tests never skip)
    or the build fails.
    """
    for program, *args in (("kustomize", "build"), ("oc", "kustomize"), ("kubectl", "kustomize")):  # noqa: B007 (used after the loop)
        executable = shutil.which(program)
        if executable is not None:
            break
    else:
        raise RuntimeError("no kustomize, oc or kubectl on PATH; install one (scripts/bootstrap.sh installs kubectl)")
    proc = subprocess.run([executable, *args, str(path)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"{program} {args[0]} {path} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def example_files(root: Path) -> dict[str, bytes]:
    """Every file of the example layout under ``root``: relative posix path -> bytes."""
    files = {}
    for top in EXAMPLE:
        path = root / top
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            files[file.relative_to(root).as_posix()] = file.read_bytes()
    return files


def pin_block(name: str, repository: str) -> str:
    return f"  - name: {name}\n    newName: {repository}\n    newTag: 1.0.0\n    digest: {initial_digest(name)}\n"


FLEET = ScaffoldSpec(
    models=(
        ("churn", "registry.example.com:5000/ml/churn"),
        ("fraud-detector", "quay.io/acme/fraud-detector"),
        ("eta", "ghcr.io/acme/eta"),
    ),
    edge_sites=edge_site_names(2),
    repo_url="git@git.example.com:ml/fleet.git",
    target_branch="release/prod",
)


def test_default_layout_is_the_project_example():
    rendered = {path: text.encode("utf-8") for path, text in render_layout(ScaffoldSpec()).items()}
    on_disk = example_files(PROJECT_ROOT)
    hint = "run scripts/regenerate_example.py"
    assert sorted(on_disk.keys() - rendered.keys()) == [], f"files the scaffold does not write ({hint})"
    assert sorted(rendered.keys() - on_disk.keys()) == [], f"files missing from the project root ({hint})"
    assert [p for p in sorted(rendered) if rendered[p] != on_disk[p]] == [], f"files that differ ({hint})"


def test_render_is_deterministic_and_write_layout_writes_it(tmp_path):
    layout = render_layout(FLEET)
    assert render_layout(FLEET) == layout
    written = write_layout(tmp_path, FLEET)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(layout)
    assert all((tmp_path / rel).read_bytes() == text.encode() for rel, text in layout.items())


def test_generated_config_parses_with_models_stages_and_policy():
    config = parse_config(render_layout(ScaffoldSpec())["gitops-mlops.yaml"])
    assert [(m.name, m.image, m.repository) for m in config.models] == [
        ("fraud-detector", "fraud-detector", "quay.io/example/fraud-detector"),
        ("demand-forecast", "demand-forecast", "quay.io/example/demand-forecast"),
        ("openvino-model-server", "openvino-model-server", "quay.io/example/openvino-model-server"),
        ("fraud-app", "fraud-app", "quay.io/example/fraud-app"),  # the application calling fraud-detector
    ]
    assert [(r.name, r.members) for r in config.releases] == [("fraud", ("fraud-detector", "openvino-model-server", "fraud-app"))]
    assert [(m.artifact, m.pin_name) for m in config.models] == [
        ("modelcar", "InferenceService/fraud-detector"),
        ("image", "demand-forecast"),
        ("image", "openvino-model-server"),
        ("image", "fraud-app"),
    ]
    assert [s.name for s in config.stages] == ["datacenter", "cloud", "edge"]
    assert config.sites == () and config.holds == ()
    assert config.policy.allowed_registries == ("quay.io",) and config.policy.remote_resources == ()
    assert (config.repo_url, config.target_branch, config.remote) == ("https://github.com/example/gitops-mlops.git", "main", "origin")


def test_allowed_registries_are_the_models_registries_sorted_and_unique():
    models = FLEET.models + (("eta-v2", "ghcr.io/acme/eta-v2"),)
    spec = ScaffoldSpec(models=models, repo_url=FLEET.repo_url, target_branch=FLEET.target_branch)
    config = parse_config(render_layout(spec)["gitops-mlops.yaml"])
    assert config.policy.allowed_registries == ("ghcr.io", "quay.io", "registry.example.com:5000")
    assert (config.repo_url, config.target_branch) == ("git@git.example.com:ml/fleet.git", "release/prod")


def test_every_overlay_pins_every_model_by_digest_in_block_form():
    layout = render_layout(FLEET)
    overlays = [p for p in layout if p.startswith("overlays/")]
    assert overlays == [
        "overlays/datacenter/kustomization.yaml",
        "overlays/cloud/kustomization.yaml",
        "overlays/edge/site-0001/kustomization.yaml",
        "overlays/edge/site-0002/kustomization.yaml",
    ]
    for path in overlays:
        text = layout[path]
        assert text.startswith("# ") and "\nnamespace: ml-serving\n" in text
        assert text.endswith("\nimages:\n" + "".join(pin_block(n, r) for n, r in FLEET.models)), path
        up = "../../../" if path.startswith("overlays/edge/") else "../../"
        assert all(f"\n  - {up}base/{name}\n" in text for name, _ in FLEET.models), path


def test_edge_site_names_are_zero_padded():
    assert edge_site_names(3) == ("site-0001", "site-0002", "site-0003")
    assert edge_site_names(0) == ()
    assert edge_site_names(9999)[-1] == "site-9999"
    assert edge_site_names(10000)[0] == "site-00001" and edge_site_names(10000)[-1] == "site-10000"
    with pytest.raises(InputError, match="edge site count"):
        edge_site_names(-1)


def test_initial_digest_is_the_sha256_of_name_and_version():
    assert initial_digest("fraud-detector") == "sha256:" + hashlib.sha256(b"fraud-detector:1.0.0").hexdigest()
    assert initial_digest("a") != initial_digest("b")


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"models": ()}, "at least one model"),
        ({"models": (("Fraud_Detector", "quay.io/a/b"),)}, "model name 'Fraud_Detector'"),
        ({"models": (("-fraud", "quay.io/a/b"),)}, "model name '-fraud'"),
        ({"models": (("fraud", "quay.io/Example/F"),)}, "model 'fraud': image reference 'quay.io/Example/F': invalid repository path"),
        ({"models": (("fraud", "quay.io/a/fraud:1.0"),)}, "must not carry a tag"),
        ({"models": (("fraud", "fraud"),)}, "must name its registry"),
        ({"models": (("a", "quay.io/a/a"), ("a", "quay.io/a/b"))}, "model 'a' is given twice"),
        ({"models": ("quay.io/a/b",)}, "expected (name, repository) or (name, repository, artifact)"),
        ({"models": (("a", "quay.io/a/a", "wheel"),)}, "artifact 'wheel' is not one of: image, modelcar"),
        ({"models": (("openvino-model-server", "quay.io/a/a", "modelcar"),)}, "the name of the serving runtime"),
        ({"edge_sites": ("berlin-01", "berlin-01")}, "edge site 'berlin-01' is given twice"),
        ({"edge_sites": ("../x",)}, "edge site name '../x'"),
        ({"edge_sites": ("Berlin",)}, "edge site name 'Berlin'"),
        ({"edge_sites": ("a" * 64,)}, "at most 63 characters"),
        ({"edge_sites": "berlin-01"}, "expected a sequence"),
        ({"repo_url": ""}, "repository URL ''"),
        ({"repo_url": "https://github.com/x/y.git # z"}, "repository URL"),
        ({"repo_url": "https://x-access-token:ghp_secret@github.com/x/y.git"}, "must not carry credentials"),
        ({"repo_url": " https://ghp_secret@github.com/x/y.git"}, "must not carry credentials"),
        ({"repo_url": "git@github.com:x/ghp_secret y.git"}, "repository URL <not shown"),
        ({"target_branch": "main..dev"}, "target branch 'main..dev'"),
        ({"target_branch": "feature branch"}, "target branch"),
    ],
)
def test_bad_input_is_refused_with_a_one_line_message(kwargs, needle):
    with pytest.raises(InputError) as caught:
        ScaffoldSpec(**kwargs)
    message = str(caught.value)
    assert needle in message and "\n" not in message
    assert "ghp_secret" not in message


def test_a_layout_with_1000_edge_sites_and_10_models():
    models = tuple((f"model-{i:02d}", f"quay.io/example/model-{i:02d}") for i in range(1, 11))
    layout = render_layout(ScaffoldSpec(models=models, edge_sites=edge_site_names(1000)))
    assert len(layout) == FIXED_FILES + FILES_PER_MODEL * 10 + 1000
    edge = [p for p in layout if p.startswith("overlays/edge/")]
    assert len(edge) == 1000 and edge[-1] == "overlays/edge/site-1000/kustomization.yaml"
    assert layout[edge[-1]].startswith("# Edge site site-1000:") and layout[edge[-1]].count("    digest: sha256:") == 10


def _build_all(root: Path) -> dict[str, str]:
    """Build every kustomization under root (bases, overlays, environments) in parallel."""
    dirs = sorted(p.parent for p in root.rglob("kustomization.yaml"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(kustomize_build, dirs))
    return {d.relative_to(root).as_posix(): out for d, out in zip(dirs, outputs, strict=True)}


@pytest.mark.parametrize("spec", [ScaffoldSpec(), FLEET], ids=["default", "fleet"])
def test_every_kustomization_builds_with_the_real_kustomize(tmp_path, spec):
    write_layout(tmp_path, spec)
    built = _build_all(tmp_path)
    overlays = ["overlays/cloud", "overlays/datacenter", *(f"overlays/edge/{s}" for s in sorted(spec.edge_sites))]
    runtime = [f"base/{spec.runtime[0]}"] if spec.modelcars else []
    app = [f"base/{spec.app[0]}"] if spec.has_app else []
    assert sorted(built) == sorted([*(f"base/{n}" for n, *_ in spec.models), *runtime, *app, "environments", *overlays])
    models, modelcars = len(spec.models) - len(spec.modelcars), len(spec.modelcars)
    apps = int(spec.has_app)  # the application: a Deployment, a Service and a Route, no autoscaler
    for site in overlays:
        kinds = re.findall(r"^kind: (\w+)$", built[site], re.M)
        expected_hpa = 0 if site.startswith("overlays/edge/") else models
        assert (kinds.count("Deployment"), kinds.count("Service"), kinds.count("Route")) == (models + apps,) * 3, site
        assert (kinds.count("InferenceService"), kinds.count("ServingRuntime")) == (modelcars, min(modelcars, 1)), site
        assert kinds.count("HorizontalPodAutoscaler") == expected_hpa, site
        assert built[site].count("namespace: ml-serving\n") == len(kinds), site
        for name, repository in spec.images:
            assert f"image: {repository}:1.0.0@{initial_digest(name)}\n" in built[site], (site, name)
        for name in spec.modelcars:
            repository = dict((m[0], m[1]) for m in spec.models)[name]
            assert f"storageUri: oci://{repository}:1.0.0@{initial_digest(name)}\n" in built[site], (site, name)
    environments = re.findall(r"^kind: (\w+)$", built["environments"], re.M)
    assert environments == ["AppProject", "Application", "Application", "ApplicationSet", "Pipeline", "Pipeline", "Task", "Task"]
    assert built["environments"].count(f"repoURL: {spec.repo_url}\n") == 4


def test_kustomize_build_reports_a_broken_kustomization(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(AssertionError, match="failed \\(exit"):
        kustomize_build(tmp_path)


def _generate_paths(doc: dict) -> list[str]:
    return doc["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"].split(";")


def _covered(directory: str, site_path: str, paths: list[str]) -> bool:
    """Whether Argo CD's manifest-generate-paths (relative to the app's path, or from the root with /) cover a folder."""
    import posixpath

    for path in paths:
        anchor = path[1:] if path.startswith("/") else posixpath.normpath(posixpath.join(site_path, path))
        if directory == anchor or directory.startswith(anchor.rstrip("/") + "/"):
            return True
    return False


def test_manifest_generate_paths_cover_every_input_of_every_site(tmp_path):
    """A commit that changes anything a site's build reads must make Argo CD regenerate that site, and
    only those: each Application (and the edge ApplicationSet's template) names its inputs."""
    import yaml

    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites
    from gitops_mlops.render.inputs import References, site_closure, walk_references

    repo = tmp_path / "fleet"
    write_layout(repo, ScaffoldSpec(edge_sites=edge_site_names(20)))
    apps = {}
    for name in ("datacenter", "cloud"):
        doc = yaml.safe_load((repo / f"environments/{name}.yaml").read_text())
        apps[doc["spec"]["source"]["path"]] = _generate_paths(doc)
    fleet = yaml.safe_load((repo / "environments/edge-fleet.yaml").read_text())
    edge_paths = _generate_paths(fleet["spec"]["template"])
    refs = References()
    sites = discover_sites(repo, load_config(repo))
    for site in sites:
        paths = apps.get(site.path, edge_paths)
        walk_references(repo, site, (), refs)
        for directory in site_closure(repo, site, refs):
            assert _covered(directory, site.path, paths), (site.name, directory, paths)
        assert not _covered("overlays/cloud" if site.stage != "cloud" else "overlays/datacenter", site.path, paths)  # other sites are not its inputs
