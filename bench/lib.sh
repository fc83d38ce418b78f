# lib.sh - the work directory, process and polling helpers the bench scripts share; sourced.
# The sourcing script owns PIDS, the array of processes it started.

stop_pid() { # pid [seconds]: TERM, wait, then KILL; forgets the pid
    local pid=$1 secs=${2:-30} i p keep=()
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < secs * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_until() { # seconds command...: polls the command every 50 ms
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}
bench_start() { # name: makes WORK (temporary, hookd-NAME.XXXXXX) and OUT (as given, else
    # WORK), and at exit stops every pid in PIDS and removes WORK, which it keeps
    # when the script failed or KEEP_WORK=1
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/hookd-$1.XXXXXX")
    [ -n "$OUT" ] || OUT=$WORK
    mkdir -p "$OUT"
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do stop_pid "$p" 5; done
    if [ "$rc" -ne 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "$(basename "$0"): logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
bench_build() { # name [dir]: unless BUILD is set, builds hookd and the bench tools Release
    # into dir (default REPO/build-bench), the log in TMPDIR/hookd-NAME-build.log; then
    # sets HOOKD, RECEIVER and GEN and checks that they are there (needs REPO and die)
    if [ -z "$BUILD" ]; then
        BUILD=${2:-$REPO/build-bench}
        local log="${TMPDIR:-/tmp}/hookd-$1-build.log"
        if [ ! -x "$BUILD/hookd" ] || [ ! -x "$BUILD/bench/bench_receiver" ]; then
            echo "building hookd (Release) into $BUILD"
            cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHOOKD_WERROR=OFF >/dev/null
        fi
        cmake --build "$BUILD" -j"$(nproc)" --target hookd bench_receiver bench_gen >"$log" 2>&1 ||
            { cat "$log" >&2; die "build failed"; }
    fi
    HOOKD=$BUILD/hookd
    RECEIVER=$BUILD/bench/bench_receiver
    GEN=$BUILD/bench/bench_gen
    local b
    for b in "$HOOKD" "$RECEIVER" "$GEN"; do
        [ -x "$b" ] || die "$b not built (needs libhttp-parser-dev: bash bench/deps.sh)"
    done
}
