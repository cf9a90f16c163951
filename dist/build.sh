#!/usr/bin/env bash
# Builds the release artefacts of policy-lsp for one target into OUT_DIR, the same way on a release runner
# and in .ci/run (which runs it for this machine):
#   policy-lsp-<rust-target>.tar.gz (.zip on Windows)   the binary, LICENSE and README.md
#   policy_lsp-<version>-<tags>.whl                      `pip install` puts the binary on PATH (maturin, bin)
#   policy-lsp-<vscode-target>-<version>.vsix             the VS Code extension with the binary inside
# The wheel is built first and its binary is the one the archive and the .vsix carry: one compilation.
# dist/checksums.py OUT_DIR writes the SHA256SUMS of a release afterwards.
#
# Usage: dist/build.sh [--target RUST_TARGET] [--profile PROFILE] [--zig] [--no-vsix] OUT_DIR
#   --target   a Rust target (default: this machine's, built into target/<profile>/ like `cargo build`)
#   --profile  the cargo profile (default: release, which .ci/run has built already; the workflow uses dist)
#   --zig      link with zig against glibc 2.17 (manylinux2014), so the Linux binary runs on older systems
#   --no-vsix  skip the extension (for machines without Node.js)
# Needs maturin (`pip install maturin`), and Node.js with npm for the .vsix.
set -euo pipefail

usage() {
  sed -n '/^# Usage:/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

target=""
profile=release
zig=false
vsix=true
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=${2:?--target needs a value}; shift 2 ;;
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --zig) zig=true; shift ;;
    --no-vsix) vsix=false; shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=$(command -v python3 || command -v python)
host=$(rustc -vV | sed -n 's/^host: //p')
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/server/Cargo.toml" | head -1)
extension_version=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$root/editors/vscode/package.json")
if [ "$extension_version" != "$version" ]; then
  echo "editors/vscode/package.json has version $extension_version, server/Cargo.toml $version: release them together" >&2
  exit 1
fi
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

case "${target:-$host}" in
  x86_64-unknown-linux-gnu) vscode_target=linux-x64 ;;
  aarch64-unknown-linux-gnu) vscode_target=linux-arm64 ;;
  x86_64-unknown-linux-musl) vscode_target=alpine-x64 ;;
  aarch64-unknown-linux-musl) vscode_target=alpine-arm64 ;;
  x86_64-apple-darwin) vscode_target=darwin-x64 ;;
  aarch64-apple-darwin) vscode_target=darwin-arm64 ;;
  x86_64-pc-windows-msvc) vscode_target=win32-x64 ;;
  aarch64-pc-windows-msvc) vscode_target=win32-arm64 ;;
  *) echo "no release layout for target ${target:-$host}" >&2; exit 2 ;;
esac
exe=""
case "${target:-$host}" in
  *-windows-msvc)
    exe=.exe
    # The MSVC C runtime linked in: vcruntime140.dll is not on every Windows machine.
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
esac

step() { printf '\n--> %s\n' "$*" >&2; }

# 1. The wheel, and with it the binary. Without --target, cargo builds into target/<profile>/, where .ci/run's
# `cargo build --release` already is: cargo finds it fresh. An explicit --target builds into target/<target>/.
step "maturin build (${target:-$host}, profile $profile)"
maturin_args=(build --locked --profile "$profile" --out "$out")
[ -z "$target" ] || maturin_args+=(--target "$target")
if $zig; then
  maturin_args+=(--zig --compatibility manylinux2014)
fi
(cd "$root" && maturin "${maturin_args[@]}")
binary="$target_dir/${target:+$target/}$profile/policy-lsp$exe"
[ -f "$binary" ] || { echo "maturin built no $binary" >&2; exit 1; }

# 2. What the binary links: the C runtime and nothing else (no OpenSSL: nothing in it speaks TLS).
case "${target:-$host}" in
  *-linux-gnu)
    step "shared libraries of $binary"
    needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    echo "$needed" >&2
    unexpected=$(grep -v -x -E 'libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-(x86-64|aarch64)\.so\.[12]' <<< "$needed" || true)
    if [ -n "$unexpected" ]; then
      echo "the binary needs more than the C runtime: $unexpected" >&2
      exit 1
    fi ;;
  *-apple-darwin)
    if command -v otool > /dev/null; then
      step "shared libraries of $binary"
      otool -L "$binary" >&2
    fi ;;
esac
if [ -z "$target" ] || [ "$target" = "$host" ]; then
  reported=$("$binary" --version)
  [ "$reported" = "policy-lsp $version" ] || { echo "the binary says '$reported', not 'policy-lsp $version'" >&2; exit 1; }
fi

# 3. The archive: the binary at its root, with the licence and the readme.
archive_name="policy-lsp-${target:-$host}"
step "archive $archive_name"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp "$binary" "$staging/policy-lsp$exe"
cp "$root/LICENSE" "$root/README.md" "$staging/"
if [ -n "$exe" ]; then
  (cd "$staging" && "$python" -m zipfile -c "$out/$archive_name.zip" "policy-lsp$exe" LICENSE README.md)
else
  chmod 755 "$staging/policy-lsp"
  (cd "$staging" && tar -czf "$out/$archive_name.tar.gz" policy-lsp LICENSE README.md)
fi

# 4. The extension for this platform, carrying the same binary.
if $vsix; then
  step "VS Code extension for $vscode_target"
  (cd "$root/editors/vscode" && npm ci --no-audit --no-fund --silent \
    && npm run --silent package:bundled -- --target "$vscode_target" --server "$binary" \
      --out "$out/policy-lsp-$vscode_target-$version.vsix")
fi

step "artefacts in $out"
ls -l "$out" >&2
