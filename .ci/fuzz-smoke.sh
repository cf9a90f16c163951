#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ and runs each for a bounded time, starting from
# the committed seeds (fuzz/seeds/<target>) in a fresh corpus. Fails on any crash, panic, timeout
# (-timeout) or memory blow-up (-rss_limit_mb); libFuzzer then leaves the input in fuzz/artifacts/<target>/.
# Prints the executions per target at the end.
#
#   bash .ci/fuzz-smoke.sh            # every target, FUZZ_SECONDS (default 15) each
#   FUZZ_SECONDS=300 bash .ci/fuzz-smoke.sh jmespath   # a longer run of one target
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(sync yaml_value jmespath pattern cel rego test_loader)
fi

# cargo-fuzz needs a nightly compiler (sanitizers, coverage instrumentation).
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

build_start=$SECONDS
build_log=$(mktemp)
if ! cargo +nightly fuzz build --fuzz-dir fuzz >"$build_log" 2>&1; then
  # The fuzz crate is outside the workspace, so this is where an API change that breaks a target shows.
  grep -v '^ *Compiling ' "$build_log" | head -n 80 >&2
  echo "fuzz-smoke: the fuzz targets do not build" >&2
  exit 1
fi
tail -n 1 "$build_log"
rm -f "$build_log"
echo "fuzz-smoke: build took $((SECONDS - build_start)) s"

# The targets run as built above (cargo fuzz run would rebuild first whenever a source changed since).
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
binaries="fuzz/target/$host/release"

corpora=$(mktemp -d)
trap 'rm -rf "$corpora"' EXIT
summary=()
for target in "${TARGETS[@]}"; do
  mkdir -p "$corpora/$target" "fuzz/artifacts/$target"
  log="$corpora/$target.log"
  run_start=$SECONDS
  if ! "$binaries/$target" "$corpora/$target" "fuzz/seeds/$target" \
      -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz-smoke: $target found a problem; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  coverage=$(grep -ao 'cov: [0-9]*' "$log" | tail -n 1 | tr -d 'cov: ')
  summary+=("$(printf '%-12s %10s executions in %3d s, %6s coverage points' "$target" "${executions:-?}" \
    $((SECONDS - run_start)) "${coverage:-?}")")
done
printf '%s\n' "${summary[@]}"
echo "fuzz-smoke: no findings"
