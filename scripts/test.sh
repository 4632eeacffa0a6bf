#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: sets up .venv and kustomize first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/${GITOPS_MLOPS_VENV:-.venv}/bin:$PATH"
exec python -m pytest "$@"
