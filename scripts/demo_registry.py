#!/usr/bin/env python3
"""The model registry act, for scripts/demo.sh: run in the demo's pipeline checkout.

Starts the model registry stand-in on loopback (testing/model_registry_server.py: the state of a
Kubeflow Model Registry, every exchange checked against its published OpenAPI description when
``../shared/fixtures`` has it; it says so when it does not), adds ``modelRegistry:`` to the config,
then: a data scientist registers fraud-detector 1.5.0, the pipeline promotes it by version to the
datacenter, the commit shows the storageUri and the registry's labels moving together, and the
registry shows where the version runs; a second ``registry sync`` writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testing.model_registry_server import ModelRegistryServer
from testing.paths import PROJECT_ROOT


def step(text: str) -> None:
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # plain text into a pipe or a log
    print(f"\n\033[1m$ {text}\033[0m" if bold else f"\n$ {text}", flush=True)


def run(*args: str) -> None:
    step(" ".join(args))
    code = subprocess.run(args).returncode
    if code:
        sys.exit(f"demo: {' '.join(args)} exited {code}")


def start() -> ModelRegistryServer:
    override = os.environ.get("GITOPS_MLOPS_FIXTURES", "").strip()
    fixtures = Path(override) if override else PROJECT_ROOT.parent / "shared" / "fixtures"
    validate = (fixtures / "model-registry" / "model-registry.yaml").is_file()
    if not validate:
        print(f"demo: no model registry description at {fixtures / 'model-registry'}: the stand-in answers without checking the exchanges", flush=True)
    return ModelRegistryServer(validate=validate)


def commit(config: Path, text: str, message: str) -> None:
    config.write_text(text)
    subprocess.run(["git", "commit", "--quiet", "-am", message], check=True)
    subprocess.run(["git", "push", "--quiet", "origin", "HEAD:main"], check=True)


def where_it_runs(server: ModelRegistryServer) -> None:
    """The registry's InferenceService records, as its dashboard lists them: environment, model, version, state."""
    step("# the model registry: where each registered version runs (its InferenceService records)")
    versions = {v["id"]: v["name"] for v in server.versions.values()}
    models = {m["id"]: m["name"] for m in server.models.values()}
    environments = {e["id"]: e["name"] for e in server.environments.values()}
    for record in server.services.values():
        env, model = environments[record["servingEnvironmentId"]], models[record["registeredModelId"]]
        print(f"{env:12} {model:16} version {versions.get(record.get('modelVersionId'), '-'):8} {record['desiredState']}", flush=True)


def main() -> int:
    server = start()
    os.environ["MR_TOKEN"] = server.token
    config = Path("gitops-mlops.yaml")
    before = config.read_text()
    commit(config, before + f"modelRegistry:\n  url: {server.url}\n  tokenEnv: MR_TOKEN\n", "the model registry")
    try:
        digest = "sha256:" + hashlib.sha256(b"fraud-detector 1.5.0").hexdigest()
        uri = f"oci://quay.io/example/fraud-detector:1.5.0@{digest}"
        step("# 1. register: a data scientist registers fraud-detector 1.5.0 (LIVE, onnx) in the model registry")
        version = server.register("fraud-detector", "1.5.0", uri, model_format="onnx")
        print(f"registered model fraud-detector, version 1.5.0 (id {version['id']}): {uri}", flush=True)
        step("# 2. promote by version: the artifact's uri is the image; the commit records the version")
        run("gitops-mlops", "promote", "fraud-detector", "--registry-version", "1.5.0", "--to", "datacenter", "--member-only", "--push")
        step("# the storageUri and the registry's labels move together, in the patch the tool owns")
        run("git", "show", "--format=%(trailers)", "HEAD")
        where_it_runs(server)
        step("# 3. nothing changed since: a sync reads three lists and writes nothing")
        run("gitops-mlops", "registry", "sync")
    finally:
        server.close()
        commit(config, before, "the model registry stand-in is gone")  # the acts after this one promote without it
    if server.violations:
        print(f"demo: {len(server.violations)} exchanges differ from the published description: {server.violations[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
