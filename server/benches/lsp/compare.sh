#!/usr/bin/env bash
# Side-by-side LSP benchmark: policy-lsp against yaml-language-server 2.0 (with the Kyverno ClusterPolicy
# schema), interleaved in one run on this machine, with the harness in ../shared/bench.
#
#   bash server/benches/lsp/compare.sh [ROUNDS]      # from the repository root; default 3 rounds
#
# It builds policy-lsp in release mode, installs yaml-language-server and Node.js 22 from the npm registry into
# $TOOLS (default ~/.cache/policy-lsp-bench), builds the inputs from ../shared/corpus, and prints the harness's
# comparison tables for (a) typing, completion and hover in one 2,000-line file and (b) opening 280 files.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROUNDS="${1:-3}"
SHARED="$(cd ../shared && pwd)"
BENCH="$SHARED/bench"
TOOLS="${TOOLS:-$HOME/.cache/policy-lsp-bench}"
INPUTS="${INPUTS:-$TOOLS/inputs}"
OUT="${OUT:-$TOOLS/results}"
mkdir -p "$TOOLS" "$OUT"

cargo build --release --quiet
OURS="$PWD/target/release/policy-lsp serve"

if [ ! -x "$TOOLS/yls/node_modules/yaml-language-server/bin/yaml-language-server" ]; then
  mkdir -p "$TOOLS/yls" && (cd "$TOOLS/yls" && npm init -y > /dev/null && npm install --no-audit --no-fund yaml-language-server@2.0.0 > /dev/null)
fi
if [ ! -x "$TOOLS/node22/node_modules/node/bin/node" ]; then
  mkdir -p "$TOOLS/node22" && (cd "$TOOLS/node22" && npm init -y > /dev/null && npm install --no-audit --no-fund node@22 > /dev/null)
fi
YLS="$TOOLS/node22/node_modules/node/bin/node $TOOLS/yls/node_modules/yaml-language-server/bin/yaml-language-server --stdio"

[ -f "$INPUTS/policies-2000.yaml" ] || python3 "$BENCH/make_inputs.py" "$SHARED/corpus/kyverno-policies" "$INPUTS" --count 280

compare=(python3 "$BENCH/compare.py" --server yls="$YLS" --settings yls="$BENCH/yls-settings.json"
  --extra yls='--server-marker workspace/configuration' --server ours="$OURS" --rounds "$ROUNDS")

echo "== (a) one 2,000-line file: open, 100 edits, completion, hover"
"${compare[@]}" --out "$OUT/single.json" -- --file "$INPUTS/policies-2000.yaml" --edits 100 @"$INPUTS/args-single.txt"

echo "== (b) open 280 files until all have diagnostics"
"${compare[@]}" --out "$OUT/dir300.json" -- --open-many "$INPUTS/dir300"
