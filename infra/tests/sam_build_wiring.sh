#!/usr/bin/env bash
# Checks that `sam build` on infra/template.yaml drives cargo-lambda as intended, without compiling:
# a recording `cargo` (first on PATH) logs each `cargo lambda build` and leaves an empty bootstrap
# where cargo-lambda would, while `cargo metadata` goes to the real cargo. For x86_64 and arm64, SAM
# must build each of webhook, worker and resync once, in release mode, at the workspace root, with
# --arm64 only for arm64, and package each function's own bootstrap.
# Usage: bash infra/tests/sam_build_wiring.sh SAM_BINARY
set -euo pipefail
sam="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
root="$(cd "$(dirname "$0")/../.." && pwd)"
real_cargo="$(command -v cargo)" || { echo "sam_build_wiring: cargo is missing (install Rust)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cat > "$work/bin/cargo" <<EOF
#!/bin/sh
if [ "\$1" = lambda ]; then
  echo "cargo \$* (in \$(pwd))" >> "$work/calls.log"
  [ "\$2" = --version ] && { echo "cargo-lambda 1.9.0"; exit 0; }
  bin=""; prev=""
  for a in "\$@"; do [ "\$prev" = --bin ] && bin="\$a"; prev="\$a"; done
  mkdir -p "\$CARGO_TARGET_DIR/lambda/\$bin"
  echo "\$bin" > "\$CARGO_TARGET_DIR/lambda/\$bin/bootstrap"
  exit 0
fi
exec "$real_cargo" "\$@"
EOF
printf '#!/bin/sh\n[ "$1" = --version ] && echo "cargo-lambda 1.9.0"\nexit 0\n' > "$work/bin/cargo-lambda"
chmod +x "$work/bin/cargo" "$work/bin/cargo-lambda"

passed=0 failed=0
check() {
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

for arch in x86_64 arm64; do
  : > "$work/calls.log"
  rm -rf "$work/build" "$work/target"
  status=0
  (cd "$work" && PATH="$work/bin:$PATH" CARGO_TARGET_DIR="$work/target" SAM_CLI_TELEMETRY=0 \
    "$sam" build -t "$root/infra/template.yaml" --build-dir "$work/build" \
    --parameter-overrides "Architecture=$arch" > "$work/sam.log" 2>&1) || status=$?
  [ $status = 0 ] || cat "$work/sam.log"
  check "[$arch] sam build succeeds" $status
  flag=""; [ "$arch" = arm64 ] && flag="--arm64 "
  for binary in webhook worker resync; do
    expected="cargo lambda build --release ${flag}--bin $binary (in $root)"
    n="$(grep -cxF "$expected" "$work/calls.log" || true)"
    check "[$arch] one '$expected'" "$([ "$n" = 1 ] && echo 0 || echo 1)"
  done
  n="$(grep -c "lambda build" "$work/calls.log" || true)"
  check "[$arch] no other cargo-lambda builds" "$([ "$n" = 3 ] && echo 0 || echo 1)"
  for fn in Webhook Worker Resync; do
    binary="$(echo "$fn" | tr '[:upper:]' '[:lower:]')"
    got="$(cat "$work/build/${fn}Function/bootstrap" 2>/dev/null || true)"
    check "[$arch] ${fn}Function packages the $binary bootstrap" "$([ "$got" = "$binary" ] && echo 0 || echo 1)"
  done
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
