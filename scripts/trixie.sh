#!/usr/bin/env bash
# Proves the TLS build. Makes a Debian 13 (trixie) root with debootstrap, or
# reuses one this script completed, builds hookd there against hiredis 1.x
# with hiredis_ssl exactly as CI builds it (ASan, UBSan, -Werror), checks that
# `hookd version` says rediss: yes, and runs there the unit tests and the
# integration tests of Redis: test_redis_tls (verified delivery over
# rediss://, refused certificates, the watchdog over TLS), test_redis_stall,
# test_wake and test_delivery; and the Docker image's Debian 13 checks of
# tests/integration/test_deploy.py (its build steps, its runtime packages).
#
# Everything inside the root runs in a PID and mount namespace of its own
# (unshare): the mounts it needs (/proc, /dev, /dev/pts) vanish with it, and
# every process started inside dies with the namespace's first process, so
# nothing outlives the run. Needs root. Only loopback addresses are used.
#   scripts/trixie.sh
# env: HOOKD_TRIXIE_ROOT (default build-trixie/root),
#      HOOKD_TRIXIE_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$PWD"
R="${HOOKD_TRIXIE_ROOT:-$SRC/build-trixie/root}"
MIRROR="${HOOKD_TRIXIE_MIRROR:-http://deb.debian.org/debian}"
TESTS='^(unit\..*|it\.test_redis_tls|it\.test_redis_stall|it\.test_wake|it\.test_delivery)$'
[ "$(id -u)" -eq 0 ] || { echo "trixie.sh: needs root (debootstrap, chroot, unshare)" >&2; exit 1; }
t0=$(date +%s)
say() { echo "trixie.sh [$(($(date +%s) - t0)) s]: $*"; }

bash scripts/apt-install.sh debootstrap

# The root is complete once its packages are in: a marker names the package
# list it was made with, so that a changed list makes it again.
want="$(sha256sum scripts/deps.sh scripts/trixie.sh | sha256sum | cut -c1-16)"
if [ "$(cat "$R/.hookd-root" 2>/dev/null)" != "$want" ]; then
    say "making a Debian 13 root in $R"
    rm -rf "$R"
    mkdir -p "$R"
    debootstrap --variant=minbase trixie "$R" "$MIRROR" >"$R.debootstrap.log" 2>&1 ||
        { tail -20 "$R.debootstrap.log" >&2; exit 1; }
    fresh=1
else
    say "reusing the Debian 13 root in $R"
    fresh=0
fi

# What every machine here has and a root lacks: names and extra CAs.
cp /etc/hosts "$R/etc/hosts"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$R/usr/local/share/ca-certificates"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp -r /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"
fi

# The tree as git sees it (tracked and new files, no build directories).
rm -rf "$R/src"
mkdir -p "$R/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$R/src"

# Runs "$@" in the root, in a PID and mount namespace of its own.
in_root() {
    unshare --mount --pid --fork --kill-child --propagation private \
        bash -c 'set -e; R=$1; shift
                 mount --bind "$R" "$R"
                 mount -t proc proc "$R/proc"
                 mount --rbind /dev "$R/dev"
                 mount -t tmpfs tmpfs "$R/tmp"
                 exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                     HOME=/root LANG=C.UTF-8 "$@"' _ "$R" "$@"
}

if [ "$fresh" = 1 ]; then
    say "installing the build's packages in the root"
    in_root bash -c 'apt-get update -qq && bash /src/scripts/deps.sh --build &&
                     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                         --no-install-recommends ca-certificates procps util-linux python3-yaml >/dev/null'
    echo "$want" >"$R/.hookd-root"
fi
in_root update-ca-certificates >/dev/null

say "building hookd in the root (ASan, UBSan, -Werror) and running its Redis tests"
in_root bash -c '
    set -euo pipefail
    cd /src
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    if ! bash scripts/build.sh build-test -DCMAKE_BUILD_TYPE=Debug -DHOOKD_SANITIZE=ON \
        -DHOOKD_WERROR=ON >/tmp/build.log 2>&1; then
        cat /tmp/build.log >&2
        exit 1
    fi
    build-test/hookd version
    build-test/hookd version | grep -q "^rediss: yes" ||
        { echo "trixie.sh: this build has no TLS: the TLS build is not proved" >&2; exit 1; }
    ctest --test-dir build-test --output-on-failure -j2 --timeout 300 -R "$1"
    # The Docker image is Debian 13: its build steps and its runtime package
    # list are checked here, where the packages are the image'"'"'s.
    /usr/bin/python3 tests/integration/test_deploy.py \
        DockerfileStatic.test_multi_stage_on_debian_13 \
        DockerBuildSteps.test_installed_binary_runs \
        DockerBuildSteps.test_runtime_packages_are_exactly_what_the_binary_links
' _ "$TESTS"
say "done"
