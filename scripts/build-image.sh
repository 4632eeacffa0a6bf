#!/usr/bin/env bash
# Build the tool's image with buildah: bash scripts/build-image.sh [TAG]   (default localhost/gitops-mlops:dev)
#
# The context (.tools/image) holds the tool's wheels with every dependency and kubectl, so the
# Containerfile installs without network. The base is GITOPS_MLOPS_IMAGE_BASE; unset, a local
# Debian base is made once with debootstrap (no base image can be pulled on an offline machine).
# Images live in the storage GITOPS_MLOPS_CONTAINERS names (default .tools/containers, vfs
# driver: no overlay mounts needed); run it with podman given the same storage flags:
#   podman --root .tools/containers/storage --runroot /tmp/gitops-mlops-run-HASH --storage-driver vfs run ...
# (HASH: the first 12 hex digits of the sha1 of the store's absolute path)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TAG="${1:-localhost/gitops-mlops:dev}"
STORE="${GITOPS_MLOPS_CONTAINERS:-$(pwd -P)/.tools/containers}"
# podman refuses a runroot path over 50 characters, and a clone may live at any path: the runroot
# (locks and state of running containers only) is a short folder named by the store's path.
RUNROOT="/tmp/gitops-mlops-run-$(printf '%s' "$STORE" | sha1sum | cut -c1-12)"
STORAGE=(--root "$STORE/storage" --runroot "$RUNROOT" --storage-driver vfs)
say() { printf 'build-image: %s\n' "$*" >&2; }
for tool in buildah podman; do
  command -v "$tool" >/dev/null || { say "$tool is required (apt-get install -y $tool; scripts/bootstrap.sh --with-registry installs it)"; exit 1; }
done
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"

context=.tools/image
rm -rf "$context" && mkdir -p "$context/wheels" "$context/bin"
say "wheels of gitops-mlops and its dependencies"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$context/wheels" . 2>&1 | grep -v '^WARNING: Location' >&2 || true
ls "$context/wheels"/gitops_mlops-*.whl >/dev/null 2>&1 || { say "pip wheel did not build gitops-mlops"; exit 1; }
"$PYTHON" scripts/install_kubectl.py "$context/bin"

BASE="${GITOPS_MLOPS_IMAGE_BASE:-}"
if [ -z "$BASE" ]; then
  BASE=localhost/gitops-mlops-base:bookworm
  if ! podman "${STORAGE[@]}" image exists "$BASE"; then
    command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || { say "debootstrap is required for the local base (apt-get install -y debootstrap), or set GITOPS_MLOPS_IMAGE_BASE"; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    say "making the local base $BASE with debootstrap (about a minute)"
    PATH="$PATH:/usr/sbin" debootstrap --variant=minbase --include=python3,python3-venv,git,ca-certificates \
      bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$STORE.debootstrap.log" 2>&1 \
      || { say "debootstrap failed: see $STORE.debootstrap.log"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    chmod 0755 "$rootfs"  # mktemp made it 0700: the image's / must be open to its non-root user
    tar -C "$rootfs" -c . | podman "${STORAGE[@]}" import --quiet - "$BASE" >/dev/null
  fi
fi
say "building $TAG from $BASE"
buildah "${STORAGE[@]}" build --quiet --isolation chroot --build-arg "BASE=$BASE" -f Containerfile -t "$TAG" "$context" >/dev/null
say "built $TAG"
