#!/usr/bin/env bash
# Runs every fuzz target for a bounded time against a copy of the committed
# seed corpus. Used by the test command; see SECURITY.md "Fuzzing".
#
#   bash fuzz/run.sh                 # 20 s per target
#   KEYWARD_FUZZ_SECONDS=600 bash fuzz/run.sh
#   bash fuzz/run.sh otpauth vault_open   # only these targets
#
# cargo-fuzz needs nightly-only compiler flags; on a stable toolchain they
# are enabled with RUSTC_BOOTSTRAP=1. Built without a sanitizer (Keyward
# forbids unsafe code, and an AddressSanitizer build of the whole dependency
# tree is far slower; panics, timeouts and out-of-memory are caught either
# way) and with debug assertions, so integer overflow panics.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "fuzzing: NOT RUN — cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
    exit 0
fi

seconds="${KEYWARD_FUZZ_SECONDS:-20}"
# A fixed seed by default, so the test command explores the same inputs on
# every run (a failure is reproducible, not luck); KEYWARD_FUZZ_SEED=0 picks
# a random one, as libFuzzer does.
seed="${KEYWARD_FUZZ_SEED:-1}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzzing: KEYWARD_FUZZ_SECONDS must be a positive number of seconds" >&2
    exit 2
fi
target_dir="${CARGO_TARGET_DIR:-$here/target}"
target_dir="${target_dir%/}/fuzz"
mkdir -p "$target_dir"
export RUSTC_BOOTSTRAP=1

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$here")
fi

build=(cargo fuzz build --fuzz-dir "$here" --sanitizer none --debug-assertions
    --target-dir "$target_dir")
echo "fuzzing: building ${#targets[@]} targets"
"${build[@]}" >"$target_dir.build.log" 2>&1 || {
    cat "$target_dir.build.log" >&2
    echo "fuzzing: FAILED — the targets do not build" >&2
    exit 1
}

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus" "$scratch/artifacts/$t"
    if [ -d "$here/corpus/$t" ]; then
        cp -R "$here/corpus/$t/." "$corpus/"
    fi
    log="$scratch/$t.log"
    status=0
    cargo fuzz run --fuzz-dir "$here" --sanitizer none --debug-assertions \
        --target-dir "$target_dir" "$t" "$corpus" -- \
        -max_total_time="$seconds" -seed="$seed" -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | tr -d ' ' || true)"
    if [ "$status" -eq 0 ]; then
        echo "fuzz $t: ok, ${execs:-?} runs in ${seconds}s, ${cov:-cov:?}"
    else
        failed=1
        echo "fuzz $t: FAILED (exit $status) after ${execs:-?} runs"
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 || true
        for a in "$scratch/artifacts/$t"/*; do
            [ -e "$a" ] || continue
            mkdir -p "$here/artifacts/$t"
            cp "$a" "$here/artifacts/$t/"
            echo "  input saved: fuzz/artifacts/$t/$(basename "$a")"
        done
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing: FAILED"
    exit 1
fi
echo "fuzzing: ok (${#targets[@]} targets, ${seconds}s each, seed $seed)"
