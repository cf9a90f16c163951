#!/usr/bin/env bash
# Installs what the code-server scenarios need, each from its registry, and prints the folder that run.mjs
# takes as --tools (its bin/node is the Node.js to run run.mjs with):
#   - Debian's chromium (and libkrb5-dev, which code-server's kerberos module builds against), with apt-get;
#   - Node.js 24, which code-server 4.x requires: the `node` package of the npm registry;
#   - code-server and playwright-core from the npm registry, built against that Node.js's own headers.
# Everything but the Debian packages lives in TOOLS_DIR/code-server-<version>, reused by later runs.
#
# Usage: setup.sh TOOLS_DIR. Exit codes: 0 ready, 3 chromium cannot be installed here (the caller skips),
# anything else a failure.
set -euo pipefail

node_version=24.21.0
code_server_version=4.139.1
playwright_version=1.65.2

if [ $# -ne 1 ]; then
  echo "usage: $0 TOOLS_DIR" >&2
  exit 2
fi
tools=$(mkdir -p "$1" && cd "$1" && pwd)
home="$tools/code-server-$code_server_version"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev > /dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
    echo "chromium cannot be installed here: ${missing[*]} missing, and apt-get needs root on Debian" >&2
    exit 3
  fi
  echo "apt-get install ${missing[*]}" >&2
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } > "$tools/apt.log" 2>&1; then
    cat "$tools/apt.log" >&2
    echo "chromium cannot be installed here: apt-get install ${missing[*]} failed" >&2
    exit 3
  fi
fi

if [ ! -f "$home/.complete" ]; then
  rm -rf "$home"
  mkdir -p "$home/node"
  echo "npm install node@$node_version" >&2
  npm install --silent --no-audit --no-fund --prefix "$home/node" "node@$node_version" >&2
  node_package="$home/node/node_modules/node"
  mkdir -p "$home/bin"
  ln -sf "$node_package/bin/node" "$home/bin/node"
  # node-gyp finds the headers of the Node.js it builds for here instead of downloading them.
  api_header=$(find "$node_package" -path '*/include/node/node_api.h' | head -1)
  [ -n "$api_header" ] || { echo "the node package has no headers (include/node/node_api.h)" >&2; exit 1; }
  headers=${api_header%/include/node/node_api.h}
  echo "npm install code-server@$code_server_version playwright-core@$playwright_version (Node.js $("$home/bin/node" --version))" >&2
  # code-server's install script checks the major version of the Node.js that runs npm: run npm under 24.
  PATH="$home/bin:$PATH" npm_config_nodedir="$headers" \
    npm install --silent --no-audit --no-fund --prefix "$home" \
    "code-server@$code_server_version" "playwright-core@$playwright_version" >&2
  [ -x "$home/node_modules/.bin/code-server" ] || { echo "code-server did not install" >&2; exit 1; }
  touch "$home/.complete"
fi
echo "$home"
