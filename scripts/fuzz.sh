#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20), without a sanitizer so it works on
# stable Rust, starting from the committed seeds in fuzz/seeds/TARGET. New corpus entries go to
# a temporary directory, so the repository stays clean; a crash is kept under
# fuzz/artifacts/TARGET/ and makes the script fail after all targets have run.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# FUZZ_JOBS: targets run at once (default 2); FUZZ_LOG_DIR: where to keep the libFuzzer logs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-20}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# One build for every target; each run below then starts at once.
cargo fuzz build -s none

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

# Fuzzes one target; its log and pass/fail land in the temporary directory.
run_one() {
    local target=$1
    mkdir -p "$corpus/$target"
    # The first directory receives new inputs; the seeds are only read.
    if cargo fuzz run -s none "$target" "$corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$corpus/$target.log" 2>&1; then
        echo ok >"$corpus/$target.status"
    else
        echo failed >"$corpus/$target.status"
    fi
}

# libFuzzer uses one core per run: run FUZZ_JOBS targets at a time (default 2).
jobs=${FUZZ_JOBS:-2}
echo "== fuzz ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
running=0
for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
done
wait

if [[ -n ${FUZZ_LOG_DIR:-} ]]; then
    mkdir -p "$FUZZ_LOG_DIR" && cp "$corpus"/*.log "$FUZZ_LOG_DIR"/
fi
failed=()
for target in "${targets[@]}"; do
    if [[ $(cat "$corpus/$target.status") == ok ]]; then
        printf '%-20s ' "$target"
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$corpus/$target.log" |
            tr -s ' \n' ' ' || true
        echo
    else
        echo "== $target FAILED"
        tail -n 40 "$corpus/$target.log"
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzzing found crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds}s each, no crashes"
