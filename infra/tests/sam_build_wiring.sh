#!/usr/bin/env bash
# Checks that `sam build` on infra/template.yaml drives cargo-lambda as intended, without compiling:
# a recording `cargo` (first on PATH) logs each `cargo lambda build` and leaves an empty bootstrap
# where cargo-lambda would, while `cargo metadata` goes to the real cargo. Builds go through
# infra/build, which picks the architecture the stack deploys (samconfig.toml, as `sam deploy
# --guided` saved it, or the argument): SAM must build each of webhook, worker and resync once, in
# release mode, at the workspace root, with --arm64 exactly when that architecture is arm64, and
# package each function's own bootstrap; an argument contradicting samconfig.toml builds nothing.
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

# One build through infra/build: $1 = label, $2 = expected architecture (or "refused"),
# $3 = samconfig.toml content, the rest = infra/build's arguments.
build_case() {
  local label="$1" expect="$2" config="$3"
  shift 3
  : > "$work/calls.log"
  rm -rf "$work/build" "$work/target"
  printf '%s\n' "$config" > "$work/samconfig.toml"
  local status=0
  (cd "$work" && PATH="$work/bin:$PATH" CARGO_TARGET_DIR="$work/target" SAM_CLI_TELEMETRY=0 SAM="$sam" \
    bash "$root/infra/build" "$@" --config-file "$work/samconfig.toml" --build-dir "$work/build" \
    > "$work/sam.log" 2>&1) || status=$?
  if [ "$expect" = refused ]; then
    check "[$label] refused" "$([ $status != 0 ] && echo 0 || echo 1)"
    check "[$label] says which Architecture samconfig.toml deploys" \
      "$(grep -q "deploys Architecture=" "$work/sam.log" && echo 0 || echo 1)"
    check "[$label] nothing built" "$([ ! -s "$work/calls.log" ] && echo 0 || echo 1)"
    return
  fi
  [ $status = 0 ] || cat "$work/sam.log"
  check "[$label] infra/build succeeds" $status
  check "[$label] says it builds for $expect" "$(grep -q "building for $expect" "$work/sam.log" && echo 0 || echo 1)"
  local flag=""
  [ "$expect" = arm64 ] && flag="--arm64 "
  for binary in webhook worker resync; do
    expected="cargo lambda build --release ${flag}--bin $binary (in $root)"
    n="$(grep -cxF "$expected" "$work/calls.log" || true)"
    check "[$label] one '$expected'" "$([ "$n" = 1 ] && echo 0 || echo 1)"
  done
  n="$(grep -c "lambda build" "$work/calls.log" || true)"
  check "[$label] no other cargo-lambda builds" "$([ "$n" = 3 ] && echo 0 || echo 1)"
  for fn in Webhook Worker Resync; do
    binary="$(echo "$fn" | tr '[:upper:]' '[:lower:]')"
    got="$(cat "$work/build/${fn}Function/bootstrap" 2>/dev/null || true)"
    check "[$label] ${fn}Function packages the $binary bootstrap" "$([ "$got" = "$binary" ] && echo 0 || echo 1)"
  done
}

# What `sam deploy --guided` writes (every answer quoted, in one string).
guided_arm64='version = 0.1
[default.global.parameters]
stack_name = "port-github"
[default.deploy.parameters]
stack_name = "port-github"
capabilities = "CAPABILITY_IAM"
parameter_overrides = "GitHubAuthMode=\"app\" GitHubAppId=\"123456\" Architecture=\"arm64\" LogLevel=\"info\""'
nothing_saved='version = 0.1'

build_case "nothing saved: the default" x86_64 "$nothing_saved"
build_case "nothing saved, arm64 asked" arm64 "$nothing_saved" arm64
# The trap this guards against: a later update with no architecture named must build for arm64.
build_case "guided deploy saved arm64" arm64 "$guided_arm64"
build_case "guided deploy saved arm64, arm64 asked" arm64 "$guided_arm64" arm64
build_case "guided deploy saved arm64, x86_64 asked" refused "$guided_arm64" x86_64
build_case "another config env (list form)" x86_64 "$guided_arm64
[prod.deploy.parameters]
parameter_overrides = [\"GitHubAppId=7\", \"Architecture=x86_64\"]" --config-env prod
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
