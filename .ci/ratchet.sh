#!/usr/bin/env bash
# Corpus ratchet: runs the opt-in conformance tests over ../shared/corpus and compares each figure with the
# one recorded in .ci/ratchet.txt. A figure below its record fails CI; records only ever rise (update the file
# in the same commit that raises a figure).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=$(cd "$1" && pwd)
RECORD=.ci/ratchet.txt
OUTPUT=$(mktemp)
trap 'rm -f "$OUTPUT"' EXIT

# The corpus modules and the cel-spec conformance module (its data is vendored, it needs no corpus) of the
# one integration-test binary, in the debug profile: `cargo test` has just built it (dependencies are
# optimised even in debug), where `--release` would compile the test crate once more.
POLICY_LSP_CORPUS="$CORPUS" cargo test --test integration -- corpus_ cel_spec:: --nocapture 2>&1 | tee "$OUTPUT" | grep -E 'agreement|supported|conformance|exit-codes|differs|DIFFERS|test result' || true
if grep -q 'test result: FAILED' "$OUTPUT"; then
  echo "ratchet: a corpus test failed" >&2
  exit 1
fi

# Lint: every file of the corpus that the real tools accept must lint without errors.
cargo run --release --quiet -p policy-lsp -- lint "$CORPUS" --output json > "$OUTPUT.lint" || true
python3 - "$OUTPUT.lint" >> "$OUTPUT" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
files = report["summary"]["files"]
with_errors = len({d["file"] for d in report["diagnostics"] if d["severity"] == "error"})
print(f"lint-clean-files: {files - with_errors}/{files}")
PY
rm -f "$OUTPUT.lint"

status=0
while read -r name figure; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue ;; esac
  recorded_passed=${figure%/*}
  line=$(grep -E "^${name} [0-9]+/[0-9]+" "$OUTPUT" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "ratchet: no figure for ${name} in this run (expected at least ${figure})" >&2
    status=1
    continue
  fi
  current=${line#* }
  current=${current%% *}
  current_passed=${current%/*}
  current_total=${current#*/}
  if [ "$current_total" -eq 0 ]; then
    echo "ratchet: ${name} found no cases" >&2
    status=1
  elif [ "$current_passed" -lt "$recorded_passed" ]; then
    echo "ratchet: ${name} dropped to ${current} (recorded ${figure})" >&2
    status=1
  else
    echo "ratchet: ${name} ${current} (recorded ${figure})"
  fi
done < "$RECORD"
exit $status
