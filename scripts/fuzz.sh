#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and fuzzes each for SECONDS
# (default 20), starting from a copy of its seed corpus in a temporary
# directory: nothing is written into the repository. Prints one line per
# target, "fuzz <target>: <N> runs, ok", and exits non-zero when a target
# crashes, leaks, times out or runs out of memory; the input that did it is
# kept and its path printed.
#   scripts/fuzz.sh [SECONDS]
# env: BUILD_DIR (default build-fuzz), FUZZ_TARGETS (default: all, space-separated)
set -euo pipefail

SECS="${1:-20}"
case "$SECS" in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-fuzz}"
read -r -a TARGETS <<<"${FUZZ_TARGETS:-fuzz_envelope fuzz_url_net fuzz_config fuzz_job fuzz_webhook fuzz_retry_after fuzz_server fuzz_health fuzz_dead fuzz_backlog fuzz_topology}"

# The build's own dependencies, then clang with its libFuzzer runtime (on
# Debian 12 clang only recommends libclang-rt-14-dev, so it is named).
bash "$ROOT/scripts/deps.sh"
has_libfuzzer() {
    local d
    d="$(mktemp -d)"
    printf '%s\n' 'int LLVMFuzzerTestOneInput(const char *p, unsigned long n);' \
        'int LLVMFuzzerTestOneInput(const char *p, unsigned long n) { return (int)(p && !n); }' \
        >"$d/t.c"
    clang -fsanitize=fuzzer -o "$d/t" "$d/t.c" >/dev/null 2>&1
    local rc=$?
    rm -rf "$d"
    return $rc
}
if ! command -v clang >/dev/null 2>&1 || ! has_libfuzzer; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        clang libclang-rt-dev
fi

# clang warns where gcc does not (-Wformat-nonliteral on hookd_buf_vaddf), so
# warnings are not errors in this build.
WORK="$(mktemp -d /tmp/hookd-fuzz.XXXXXX)"
if ! { CC=clang cmake -S "$ROOT" -B "$BUILD" -DHOOKD_FUZZ=ON -DHOOKD_WERROR=OFF &&
       cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"; } >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    echo "fuzz: build failed; log: $WORK/build.log" >&2
    exit 1
fi
failed=0
for t in "${TARGETS[@]}"; do
    mkdir -p "$WORK/$t/corpus" "$WORK/$t/artifacts"
    cp "$ROOT/fuzz/corpus/$t/"* "$WORK/$t/corpus/"
    log="$WORK/$t/log"
    dict=()
    [ -f "$ROOT/fuzz/$t.dict" ] && dict=("-dict=$ROOT/fuzz/$t.dict")
    rc=0
    "$BUILD/fuzz/$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=5 \
        -artifact_prefix="$WORK/$t/artifacts/" "${dict[@]}" "$WORK/$t/corpus" >"$log" 2>&1 ||
        rc=$?
    runs="$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
    if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
        echo "fuzz $t: $runs runs, ok"
        continue
    fi
    failed=1
    echo "fuzz $t: FAILED (exit $rc)"
    grep -aE 'ERROR: |invariant failed|SUMMARY: ' "$log" | head -n 5 | sed 's/^/    /'
    for a in "$WORK/$t/artifacts/"*; do
        [ -e "$a" ] && echo "    input: $a (replay: $BUILD/fuzz/$t $a)"
    done
    echo "    log: $log"
done

if [ "$failed" -eq 0 ]; then
    rm -rf "$WORK"
    exit 0
fi
echo "fuzz: kept $WORK" >&2
exit 1
