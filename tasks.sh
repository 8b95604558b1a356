#!/usr/bin/env bash
# Keyward's two entry points (see README):
#   bash tasks.sh run    set up everything, build, and open the app
#   bash tasks.sh test   set up everything and run every test
# Other tasks: setup, build-ui, build-app, bench, package.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

APT_BUILD=(libwebkit2gtk-4.1-dev build-essential pkg-config file curl ca-certificates)
APT_TEST=(xvfb xauth x11-utils xdotool webkit2gtk-driver gnome-keyring dbus at-spi2-core imagemagick git openssh-server openssh-client)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

setup_toolchains() {
  if ! command -v cargo >/dev/null; then
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
    echo "Node.js 20 or newer is required (https://nodejs.org); found: $(node --version 2>/dev/null || echo none)" >&2
    exit 1
  fi
}

setup_ui() {
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    log "installing UI packages"
    npm --prefix ui ci --no-audit --no-fund
  fi
}

setup_test_tools() {
  apt_install "${APT_TEST[@]}"
  if ! command -v tauri-driver >/dev/null; then
    log "installing tauri-driver"
    cargo install tauri-driver --locked --version '^2'
  fi
  if ! cargo fuzz --help >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
  if ! command -v cargo-deny >/dev/null; then
    log "installing cargo-deny"
    cargo install cargo-deny --locked
  fi
}

build_ui() {
  log "building the UI"
  npm --prefix ui run build
}

# The binary the e2e tests drive: a debug build with the UI embedded. The
# same feature set is used for clippy and tests so nothing builds twice.
FEATURES=(--features keyward-desktop/custom-protocol)
# Tests also generate the UI's TypeScript types (keyward-core's `ts` feature,
# a dev-dependency of the desktop); clippy, the e2e build and the tests all
# use this set so keyward-core and its dependents compile once.
TEST_FEATURES=("${FEATURES[@]}" --features keyward-core/ts)

target_dir() { echo "${CARGO_TARGET_DIR:-$ROOT/target}"; }

# Supply chain: licenses, duplicate versions and sources of every crate
# (cargo-deny with deny.toml), RustSec advisories, and npm advisories for the
# UI's runtime dependencies. An advisory check that cannot reach its database
# says NOT CHECKED; it never passes silently.
supply_chain() {
  log "supply chain: crate licenses, bans, sources (deny.toml)"
  local report
  report=$(cargo deny check licenses bans sources 2>&1) || { printf '%s\n' "$report"; return 1; }
  echo "$(grep -c '^warning\[duplicate\]' <<<"$report" || true) crates with more than one version" \
    "(warnings; details: cargo deny check bans)"
  tail -n 1 <<<"$report"
  log "supply chain: RustSec advisories"
  if timeout 300 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny check --disable-fetch advisories
  else
    echo "advisories: NOT CHECKED — the advisory database could not be fetched"
  fi
  log "supply chain: npm advisories (ui, runtime dependencies)"
  local audit
  audit=$(npm --prefix ui audit --omit=dev --json 2>/dev/null || true)
  AUDIT="$audit" node -e '
    let r; try { r = JSON.parse(process.env.AUDIT); } catch { r = {}; }
    const v = r.metadata && r.metadata.vulnerabilities;
    if (!v) {
      console.log("npm audit: NOT CHECKED — the registry did not answer the audit request" +
        (r.message ? " (" + r.message.replace(/\S+:\/\/\S+/g, "").trim() + ")" : ""));
      process.exit(0);
    }
    console.log("npm audit: " + JSON.stringify(v));
    if ((v.high || 0) + (v.critical || 0) > 0) {
      console.error("npm audit: high or critical advisories in runtime dependencies (npm --prefix ui audit --omit=dev)");
      process.exit(1);
    }'
}

cmd_setup() {
  apt_install "${APT_BUILD[@]}"
  setup_toolchains
  setup_ui
}

cmd_run() {
  cmd_setup
  build_ui
  log "building the app (release)"
  cargo build --release -p keyward-desktop "${FEATURES[@]}"
  log "starting Keyward"
  exec "$(target_dir)/release/keyward-desktop"
}

cmd_test() {
  cmd_setup
  setup_test_tools
  log "format"
  cargo fmt --all --check
  log "UI: type check, lint, unit tests"
  npm --prefix ui run check
  npm --prefix ui run lint
  npm --prefix ui test
  build_ui
  log "clippy"
  cargo clippy --workspace --all-targets "${TEST_FEATURES[@]}" -- -D warnings
  supply_chain
  log "building the desktop binary for the e2e suite"
  cargo build -p keyward-desktop "${TEST_FEATURES[@]}"
  log "Rust tests (unit, integration, CLI, keyring, GUI e2e)"
  # A private D-Bus session with a real gnome-keyring, and a private X
  # server, so tests never touch the user's keyring or screen.
  local scratch figures
  figures="$ROOT/target/e2e-figures.txt"
  rm -f "$figures"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  mkdir -p "$scratch/data" "$scratch/cache" "$scratch/config"
  XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache" XDG_CONFIG_HOME="$scratch/config" \
  KEYWARD_REQUIRE_KEYRING=1 \
    dbus-run-session -- bash -c '
      set -euo pipefail
      echo -n keyward-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
      xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --no-fail-fast '"${TEST_FEATURES[*]}"' -- --test-threads=2
    '
  log "figures measured by the e2e suite"
  cat "$figures" 2>/dev/null || echo "(none recorded)"
  log "fuzzing: every target for a bounded time (fuzz/run.sh)"
  bash fuzz/run.sh
  log "all tests passed"
}

cmd_bench() {
  cmd_setup
  cargo bench -p keyward-core
}

# The Debian package, built by the Tauri bundler (which also builds the UI
# and the release binary). AppImage is not built: its tooling is downloaded
# at build time.
cmd_package() {
  cmd_setup
  log "building the .deb"
  npx --prefix ui tauri build --bundles deb
  ls -l "$(target_dir)"/release/bundle/deb/*.deb
}

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  setup) cmd_setup ;;
  build-ui) setup_ui; build_ui ;;
  build-app) setup_ui; build_ui; cargo build -p keyward-desktop "${FEATURES[@]}" ;;
  bench) cmd_bench ;;
  package) cmd_package ;;
  *) echo "usage: bash tasks.sh run|test|setup|build-ui|build-app|bench|package" >&2; exit 2 ;;
esac
