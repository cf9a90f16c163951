#!/usr/bin/env bash
# `policy-lsp test` over a whole corpus beside the time it takes just to read and parse the files that run
# reads (issue #8: at most 2 s wall, within 5x of parse only). Medians of ROUNDS runs of the release binary.
#
#   bash server/benches/corpus_timing.sh [CORPUS] [ROUNDS]     # default ../shared/corpus, 5 rounds
#
# Each round runs `policy-lsp test CORPUS` once for its wall time, then `policy-lsp test --timings CORPUS`,
# which prints its phases and the parse-only time of the same files (read and parsed once each, on the
# same thread pool). POLICY_LSP_BIN picks a binary instead of building target/release/policy-lsp.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS="${1:-../shared/corpus}"
ROUNDS="${2:-5}"
if [ -z "${POLICY_LSP_BIN:-}" ]; then
  cargo build --release --quiet
  POLICY_LSP_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/policy-lsp"
fi

walls=() totals=() parses=()
for _ in $(seq "$ROUNDS"); do
  start=$(date +%s%N)
  "$POLICY_LSP_BIN" test "$CORPUS" > /dev/null 2>&1 || true
  walls+=($(( ($(date +%s%N) - start) / 1000000 )))
  timings=$("$POLICY_LSP_BIN" test --timings "$CORPUS" 2>&1 > /dev/null | grep '^timings:' || true)
  [ -n "$timings" ] || { echo "no timings from $POLICY_LSP_BIN (is it older than --timings?)" >&2; exit 2; }
  totals+=("$(sed -n 's/.*; total \([0-9]*\) ms$/\1/p' <<< "$timings")")
  parses+=("$(sed -n 's/.* documents) \([0-9]*\) ms;.*/\1/p' <<< "$timings")")
done
echo "$timings" | sed 's/^/last round: /'

median() { printf '%s\n' "$@" | sort -n | awk '{ value[NR] = $1 } END { print value[int((NR + 1) / 2)] }'; }
wall=$(median "${walls[@]}") total=$(median "${totals[@]}") parse=$(median "${parses[@]}")
echo "medians of $ROUNDS rounds on $CORPUS:"
echo "  policy-lsp test, wall:        $wall ms"
echo "  policy-lsp test, in process:  $total ms"
echo "  parse only, same files:       $parse ms"
awk -v wall="$wall" -v parse="$parse" 'BEGIN { printf "  test wall / parse only:       %.1fx\n", wall / parse }'
