#!/usr/bin/env bash
# The main job on the embedded example: a throwaway copy of this repository's
# GitOps layout with a bare "remote", then what a pipeline and a reviewer do:
# validate, promote a new model digest datacenter -> cloud -> edge with --push,
# a refused out-of-order promotion, a pull-request promotion, a version promoted from
# the model registry (its loopback stand-in) and written back there, and the closed loop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Prometheus (Debian's package) runs the closing-the-loop act on loopback; bootstrap installs it.
if ! bash scripts/bootstrap.sh --with-monitoring; then
  [ -x "${GITOPS_MLOPS_VENV:-.venv}/bin/gitops-mlops" ] || exit 1
  echo "demo: Prometheus could not be installed (apt-get install prometheus); the closing-the-loop act will say so and be skipped" >&2
fi
export PATH="$PWD/${GITOPS_MLOPS_VENV:-.venv}/bin:$PATH"
PROJECT="$PWD"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gitops-mlops-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export GIT_AUTHOR_NAME="Model Pipeline" GIT_AUTHOR_EMAIL="pipeline@example.com"
export GIT_COMMITTER_NAME="Model Pipeline" GIT_COMMITTER_EMAIL="pipeline@example.com"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then  # bold commands on a terminal; plain text into a pipe or a log
  step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
  step() { printf '\n$ %s\n' "$*"; }
fi
run() { step "$*"; "$@"; }

# A bare remote that Argo CD would watch, seeded with this project's example layout.
git init --quiet --bare --initial-branch=main "$WORK/remote.git"
mkdir "$WORK/seed"
cp -r "$PROJECT/gitops-mlops.yaml" "$PROJECT/base" "$PROJECT/overlays" "$PROJECT/environments" "$WORK/seed/"
git -C "$WORK/seed" init --quiet --initial-branch=main
git -C "$WORK/seed" add -A && git -C "$WORK/seed" commit --quiet -m "example GitOps repository"
git -C "$WORK/seed" push --quiet "$WORK/remote.git" main
git clone --quiet "$WORK/remote.git" "$WORK/pipeline"
cd "$WORK/pipeline"

# No registry here to ask whether a digest exists: the demo says so once and skips that check
# (GITOPS_MLOPS_NO_VERIFY=1, the same as --no-verify); a pipeline leaves it on.
export GITOPS_MLOPS_NO_VERIFY=1
DIGEST=sha256:$(printf 'fraud-detector 1.4.0' | sha256sum | cut -c1-64)
IMAGE=quay.io/example/fraud-detector:1.4.0@$DIGEST

run gitops-mlops models
run gitops-mlops sites
run gitops-mlops validate

step "# what runs today: releases promoted before this demo (a rollback goes back to a release, never to the placeholder init wrote)"
for release in "fraud-detector 1.3.0" "demand-forecast 1.0.5"; do
  set -- $release
  BEFORE=quay.io/example/$1:$2@sha256:$(printf '%s %s' "$1" "$2" | sha256sum | cut -c1-64)
  for stage in datacenter cloud edge; do
    if [ "$1" = fraud-detector ]; then what=(--release fraud "$1=$BEFORE"); else what=("$1" "$BEFORE"); fi  # fraud-detector moves in release fraud
    gitops-mlops promote "${what[@]}" --to "$stage" --push >/dev/null 2>&1 || { echo "demo: promoting $1 $2 to $stage failed" >&2; exit 1; }
  done
  echo "$1 $2 at every site"
done

step "# the pipeline just pushed $IMAGE"
step "# fraud-detector moves in release fraud (with its runtime and fraud-app, the application calling it): alone it is refused (exit 3)"
gitops-mlops promote fraud-detector "$IMAGE" --to datacenter --push || echo "exit code $?"
step "# promoted as the release's member: the members not named keep what they run, and fraud-app's requires: is checked"
run gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to datacenter --push
step "# fraud-detector is a modelcar: the commit changes its InferenceService's storageUri, nothing else"
run git show --format= HEAD
step "# edge before cloud is refused (exit 3): stage order"
gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to edge --push || echo "exit code $?"
run gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to cloud --push
run gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to edge --push -o json
step "# running it again is a no-op"
gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to edge --push

DF=quay.io/example/demand-forecast:1.1.0@sha256:$(printf 'demand-forecast 1.1.0' | sha256sum | cut -c1-64)
step "# a reviewed rollout: commit on a branch, push it, print the pull request"
run gitops-mlops promote demand-forecast "$DF" --to datacenter --branch promote/demand-forecast-1.1.0 --push
step "# demand-forecast is a Deployment: the commit changes its images: pin"
run git show --format= promote/demand-forecast-1.1.0

step "# the reviewer's pull-request check: validate, then the rendered diff as a PR comment"
run bash "$PROJECT/scripts/pr-check.sh" origin/main "$WORK/pr-comment.md"
sed -n '1,12p' "$WORK/pr-comment.md"

step "# the operator: what runs where, and the audit trail (read from commit trailers)"
git switch --quiet --detach origin/main
RT=quay.io/example/openvino-model-server:1.1.0@sha256:$(printf 'openvino-model-server 1.1.0' | sha256sum | cut -c1-64)
step "# the serving runtime is promoted like a model (a member of release fraud), datacenter first"
run gitops-mlops promote --release fraud openvino-model-server="$RT" --to datacenter --push
run gitops-mlops status --model fraud-detector
run gitops-mlops history fraud-detector
step "# the release: what each site runs of it, and the combinations it moved as"
run gitops-mlops status --release fraud
run gitops-mlops history --release fraud

step "# drift alarms at berlin-01: roll it back; the bad digest is put on hold"
run gitops-mlops rollback fraud-detector --site edge/berlin-01 --push
step "# automation re-promoting the held digest is refused (exit 3) until the hold is released"
gitops-mlops promote --release fraud fraud-detector="$IMAGE" --to edge --push || echo "exit code $?"
run gitops-mlops history fraud-detector --site edge/berlin-01 --limit 2

step "# the model registry: register -> promote by version -> the registry shows where it runs"
python "$PROJECT/scripts/demo_registry.py"

step "# closing the loop: checks on production metrics gate the next stage, roll back, trigger retraining"
python "$PROJECT/scripts/demo_loop.py"

step "# safer at fleet scale: an edge rollout in three waves, each soaked and checked before the next"
python "$PROJECT/scripts/demo_waves.py"
