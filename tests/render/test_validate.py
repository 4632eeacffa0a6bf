"""validate: failures and a total (every site with --verbose); placeholder pins said plainly."""

from __future__ import annotations

import json

from testing.cli import cli
from testing.paths import DIGEST_B
from testing.repos import one_model_repo, ship


def test_failures_and_a_total_and_every_site_with_verbose(gitops_repo):
    quiet = cli("validate", cwd=gitops_repo.work)
    assert quiet.code == 0 and quiet.out == "" and "5 sites valid" in quiet.err
    verbose = cli("validate", "--verbose", cwd=gitops_repo.work)
    assert verbose.out.splitlines() == ["ok    datacenter", "ok    cloud", "ok    edge/austin-01", "ok    edge/berlin-01", "ok    edge/singapore-01"]
    broken = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    broken.write_text(broken.read_text().replace("resources:", "resources:\n  - ./missing.yaml"))
    failed = cli("validate", cwd=gitops_repo.work)
    assert failed.code == 4 and failed.out.startswith("FAIL  cloud:") and len(failed.out.splitlines()) == 1
    assert "1 of 5 sites failed validation" in failed.err


def test_placeholder_pins_are_reported_until_promoted(gitops_repo):
    result = cli("validate", "-o", "json", cwd=gitops_repo.work)
    assert result.code == 0
    reports = json.loads(result.out)
    assert all(sorted(r["placeholders"]) == ["demand-forecast", "fraud-detector", "openvino-model-server"] for r in reports)
    ship(gitops_repo, "1.4.0", DIGEST_B, "datacenter")
    result = cli("validate", cwd=gitops_repo.work)
    assert result.code == 0
    assert "note: fraud-detector at 4 sites (cloud, edge/austin-01, edge/berlin-01 and 1 more) still runs the placeholder digest" in result.err
    assert "note: demand-forecast at 5 sites" in result.err and "not yet promoted" in result.err


def test_a_modelcar_pin_without_a_digest_or_malformed_is_reported_with_its_line(gitops_repo):
    path = gitops_repo.work / "overlays/cloud/kustomization.yaml"
    text = path.read_text()
    uri = next(line.split("value: ", 1)[1] for line in text.splitlines() if "value: oci://" in line)
    path.write_text(text.replace(uri, uri.split("@")[0]))  # the tag alone
    result = cli("validate", "--site", "cloud", cwd=gitops_repo.work)
    line = next(i + 1 for i, x in enumerate(path.read_text().splitlines()) if "value: oci://" in x)
    assert result.code == 4 and f"overlays/cloud/kustomization.yaml:{line}: model fraud-detector is not pinned by digest" in result.out
    assert "InferenceService/fraud-detector: model fraud-detector image 'quay.io/example/fraud-detector:1.0.0' is not pinned by a sha256 digest" in result.out
    path.write_text(text.replace(uri, "oci://quay.io/example/Fraud::1"))
    result = cli("validate", "--site", "cloud", cwd=gitops_repo.work)
    assert result.code == 4 and f"overlays/cloud/kustomization.yaml:{line}: storageUri 'oci://quay.io/example/Fraud::1'" in result.out


def test_verdicts_are_kept_per_output_and_checks_and_never_go_stale(gitops_repo, monkeypatch):
    from gitops_mlops.config.load import load_config
    from gitops_mlops.config.sites import discover_sites
    from gitops_mlops.render.schemas import Schemas
    from gitops_mlops.render.validate import schemas_for, validate_sites
    from tests.promote.test_promotion_schemas import _open_object

    def crd(pattern: str) -> str:
        uri = {"type": "string", "pattern": pattern}
        schema = _open_object(spec=_open_object(predictor=_open_object(model=_open_object(storageUri=uri))))
        version = {"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
        names = {"kind": "InferenceService", "plural": "inferenceservices"}
        return json.dumps(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "spec": {"group": "serving.kserve.io", "names": names, "versions": [version]},
            }
        )

    checked = []
    real = Schemas.check
    monkeypatch.setattr(Schemas, "check", lambda self, rendered: checked.append(1) or real(self, rendered))
    repo, path = gitops_repo.work, gitops_repo.work / "isvc-crd.json"
    config = load_config(repo)
    sites = discover_sites(repo, config)
    path.write_text(crd("^oci://quay[.]io/"))
    assert all(r.ok for r in validate_sites(repo, config, sites, schemas=schemas_for(repo, config, (path,))))
    first = len(checked)
    assert first == 3  # datacenter, cloud, and the three edge sites with one build between them
    assert all(r.ok for r in validate_sites(repo, config, sites, schemas=schemas_for(repo, config, (path,))))
    assert len(checked) == first  # nothing changed: every verdict was kept
    path.write_text(crd("^oci://registry[.]example[.]com/"))  # other checks: the kept verdicts do not apply
    reports = validate_sites(repo, config, sites, schemas=schemas_for(repo, config, (path,)))
    assert not any(r.ok for r in reports) and len(checked) == 2 * first
    assert "spec/predictor/model/storageUri: 'oci://quay.io/example/fraud-detector:1.0.0@sha256:" in reports[0].errors[0]


def test_an_unpinned_docker_hub_model_fails_however_the_manifests_spell_it(tmp_path):
    repo = one_model_repo(tmp_path, "team/app:1.0", "docker.io/team/app")
    result = cli("validate", cwd=repo.work)
    assert result.code == 4
    assert result.out.splitlines() == [
        "FAIL  dev: site dev: Deployment/app: model app image 'team/app:1.0' is not pinned by a sha256 digest",
        "FAIL  prod: site prod: Deployment/app: model app image 'team/app:1.0' is not pinned by a sha256 digest",
    ]


def test_a_pin_of_another_spelling_of_the_model_without_a_digest_is_named_with_its_line(tmp_path):
    pins = "images:\n  - name: nginx\n    newName: index.docker.io/library/nginx\n    newTag: '1.27'\n"
    repo = one_model_repo(tmp_path, "nginx:1.0", "docker.io/library/nginx", pins=pins)
    result = cli("validate", "-o", "json", cwd=repo.work)
    assert result.code == 4
    errors = {r["site"]: r["errors"] for r in json.loads(result.out)}
    assert "overlays/dev/kustomization.yaml:4: model app is not pinned by digest" in errors["dev"]
    assert any("image 'index.docker.io/library/nginx:1.27' is not pinned" in e for e in errors["dev"])
