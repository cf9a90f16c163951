#!/usr/bin/env bash
# Checks the pre-commit hooks for real: a hook repository with this .pre-commit-hooks.yaml at its root (as the
# policy-lsp repository has it), and a user repository of policies that runs them through `pre-commit try-repo`.
# Everything is local: try-repo clones the hook repository from its path, and the hooks are `language: system`.
#
# Usage: check_hooks.sh PRE_COMMIT_BINARY DIR_WITH_policy-lsp FIXTURES_DIR
set -uo pipefail

pre_commit=$1
bin_dir=$2
fixtures=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
skipped=0

pass() { passed=$((passed + 1)); echo "PASS pre-commit: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL pre-commit: $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2"; }
skip() { skipped=$((skipped + 1)); echo "SKIP pre-commit: $1"; }

export PATH="$bin_dir:$PATH"
export PRE_COMMIT_HOME="$work/cache"
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

if "$pre_commit" validate-manifest "$here/.pre-commit-hooks.yaml" > "$work/log" 2>&1; then
  pass "the hook manifest is valid"
else
  fail "the hook manifest is invalid" "$work/log"
fi

# The hook repository: the manifest at its root, committed.
hooks="$work/hooks"
git init -q "$hooks"
cp "$here/.pre-commit-hooks.yaml" "$hooks/"
git -C "$hooks" add . && git -C "$hooks" commit -qm hooks

# A user repository holding one repository of policies in the state given by $1 (a fixture path).
user_repo() {
  rm -rf "$work/user"
  git init -q "$work/user"
  cp -r "$1" "$work/user/"
  git -C "$work/user" add . && git -C "$work/user" commit -qm policies
}

try_hook() {
  (cd "$work/user" && "$pre_commit" try-repo "$hooks" "$1" --all-files) > "$work/log" 2>&1
}

user_repo "$fixtures/require-team.yaml"
if try_hook policy-lsp-lint; then
  fail "policy-lsp-lint passed on a policy with a schema error" "$work/log"
elif grep -q 'require-team.yaml:14:24: error\[schema/enum\]' "$work/log"; then
  pass "policy-lsp-lint fails on a schema error and shows it"
else
  fail "policy-lsp-lint failed without showing the schema error" "$work/log"
fi

user_repo "$fixtures/kyverno-test"
if try_hook policy-lsp-lint; then
  pass "policy-lsp-lint passes on clean policies"
else
  fail "policy-lsp-lint failed on clean policies" "$work/log"
fi

if ! policy-lsp test --help > /dev/null 2>&1; then
  skip "policy-lsp-test: this server has no \`test\` subcommand yet, so the hook was not exercised"
elif try_hook policy-lsp-test; then
  pass "policy-lsp-test passes on passing tests"
else
  fail "policy-lsp-test failed on passing tests" "$work/log"
fi

echo "pre-commit checks done with $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
