#!/usr/bin/env bash
# The build stage of docker/Dockerfile, one step per subcommand. The Dockerfile
# runs nothing else in that stage, and tests/integration/test_deploy.py runs
# these same steps in a temporary directory laid out like the image's build
# context, so the image build cannot drift from what CI checks.
#
#   docker-build-steps.sh deps         Debian packages, with CI's own scripts/deps.sh --build
#   docker-build-steps.sh build OUT    CI's CMake build (scripts/build.sh) in Release,
#                                      the unit tests, then `cmake --install` into OUT
#                                      (OUT/usr/local/bin/hookd), stripped
#
# Run from the root of the source tree (the Dockerfile's WORKDIR).
set -euo pipefail

usage() {
    echo "usage: $0 deps | build OUT_DIR" >&2
    exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
deps)
    [ $# -eq 1 ] || usage
    bash scripts/deps.sh --build
    ;;
build)
    [ $# -eq 2 ] || usage
    out=$2
    case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
    dir=build-image
    bash scripts/build.sh "$dir" -DCMAKE_BUILD_TYPE=Release -DHOOKD_SANITIZE=OFF -DHOOKD_WERROR=ON
    ctest --test-dir "$dir" -R '^unit\.' --output-on-failure -j"$(nproc)"
    DESTDIR="$out" cmake --install "$dir" --prefix /usr/local --strip >/dev/null
    "$out/usr/local/bin/hookd" version
    ;;
*)
    usage
    ;;
esac
