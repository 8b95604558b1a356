#!/usr/bin/env bash
# Desktop benchmark: the .deb's size, cold start to an interactive unlock
# screen, and memory after unlocking a vault of 1,000 keys.
#
#   bash bench/desktop.sh            # builds what is missing, then measures
#   bash bench/desktop.sh --build    # rebuilds the .deb and the CLI first
#
# Start: the release binary is launched through tauri-driver + WebKitWebDriver
# under Xvfb, once per run with a fresh data directory holding an existing
# vault and fresh XDG (WebKit cache) directories; the time is from the app
# process's start to the first WebDriver poll that sees the "Unlock" heading
# with an enabled password field. Median of RUNS (default 5).
# Memory: PSS and RSS (/proc/PID/smaps_rollup) of the app and each WebKit
# process, a few seconds after the key list shows all keys.
# Environment: RUNS (5), KEYS (1000), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-5}
KEYS=${KEYS:-1000}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

for tool in tauri-driver WebKitWebDriver xvfb-run dbus-run-session python3; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: run 'bash tasks.sh test' once (it installs the test tools)" >&2
    exit 1
  }
done

newest_deb() { ls -t "$TARGET"/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true; }

deb=$(newest_deb)
if [ -z "$deb" ] || [ ! -x "$TARGET/release/keyward-desktop" ] || [ "${1:-}" = "--build" ]; then
  say "building the .deb (bash tasks.sh package)"
  bash tasks.sh package >&2
  deb=$(newest_deb)
fi
if [ ! -x "$TARGET/release/keyward" ] || [ "${1:-}" = "--build" ]; then
  say "building the CLI (release)"
  cargo build --release -p keyward-cli >&2
fi
APP="$TARGET/release/keyward-desktop"
CLI="$TARGET/release/keyward"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Vaults made with the CLI, with the smallest KDF cost the core accepts (the
# benchmark measures the app, not Argon2id).
export KEYWARD_PASSWORD="bench-Correct-Horse-Battery-Staple-2024"
KDF=(--kdf-memory-mib 19 --kdf-iterations 2 --kdf-parallelism 1)
unset KEYWARD_VAULT

say "creating a vault for the start-up runs"
KEYWARD_DATA_DIR="$work/start-vault" "$CLI" init "${KDF[@]}" >/dev/null 2>&1

say "creating a vault with $KEYS keys"
KEYWARD_DATA_DIR="$work/big-vault" "$CLI" init "${KDF[@]}" >/dev/null 2>&1
exchanges=(binance kraken bybit)
secret=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')
for i in $(seq 1 "$KEYS"); do
  n=$(printf '%05d' "$i")
  ex=${exchanges[$((i % 3))]}
  case "$ex" in
    binance) id="BENCH${n}$(printf 'A%.0s' {1..54})" ;;
    *) id="BENCHKEY${n}" ;;
  esac
  printf '%s\n' "$secret$n" | KEYWARD_DATA_DIR="$work/big-vault" "$CLI" add \
    --exchange "$ex" --label "bench-$n" --api-key "$id" --secret-stdin \
    --scopes read,trade --ip 203.0.113.7 --used-by "bench bot" >/dev/null
  if [ $((i % 250)) -eq 0 ]; then say "  $i keys"; fi
done

deb_bytes=$(stat -c %s "$deb")

say "measuring under Xvfb"
# A private D-Bus session (no keyring daemon: the app reports the keyring as
# unavailable, as on a machine without one) and a private X server.
dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  python3 bench/desktop.py --app "$APP" --work "$work" --runs "$RUNS" --keys "$KEYS" \
  --deb "$deb" --deb-bytes "$deb_bytes"
