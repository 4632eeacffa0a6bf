#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: sets up .venv, kustomize and docker-registry first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh --with-registry
export PATH="$PWD/${GITOPS_MLOPS_VENV:-.venv}/bin:$PATH"
exec python -m pytest "$@"
