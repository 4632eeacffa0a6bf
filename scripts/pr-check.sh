#!/usr/bin/env bash
# Pull-request check for a gitops-mlops repository, for any CI system
# (Tekton task, GitHub Actions step, GitLab job). Run it in the PR's checkout:
#
#   scripts/pr-check.sh [BASE_REF] [COMMENT_FILE]
#
# 1. validate: every overlay renders and pins every model by digest (exit 4 if not);
# 2. diff --markdown: the rendered change per affected site, written to COMMENT_FILE
#    for the CI system to post as the pull-request comment.
# Exit code: that of the first failing step (see the README's exit codes).
set -euo pipefail
BASE="${1:-origin/${GITOPS_MLOPS_TARGET_BRANCH:-main}}"
COMMENT="${2:-gitops-mlops-diff.md}"
gitops-mlops validate
gitops-mlops diff --base "$BASE" --head HEAD --markdown > "$COMMENT"
echo "pr-check: validation passed; review comment written to $COMMENT" >&2
