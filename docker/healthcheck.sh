#!/bin/bash
# Docker HEALTHCHECK of the hookd image: GET /healthz on HOOKD_METRICS_ADDR,
# healthy on a "200" status line. bash's /dev/tcp and coreutils' timeout are
# already in debian:12-slim, so the image needs no curl for this one request.
#   exit 0 healthy, 1 unhealthy (the reason on standard output, which Docker
#   keeps in `docker inspect`).
set -u
addr=${HOOKD_METRICS_ADDR:-}
if [ -z "$addr" ]; then
    echo "HOOKD_METRICS_ADDR is not set: the endpoint is off (disable the health check)"
    exit 1
fi
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
case "$host" in
"" | 0.0.0.0 | "*") host=127.0.0.1 ;;
::) host=::1 ;;
esac
case "$port" in
'' | *[!0-9]*)
    echo "HOOKD_METRICS_ADDR=$addr: no port"
    exit 1
    ;;
esac
status=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$1" >&3
    IFS= read -r line <&3 && printf "%s" "$line"
' healthcheck "$host" "$port" 2>&1)
status=${status%$'\r'}
case "$status" in
"HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "GET http://$host:$port/healthz: ${status:-no answer}"
exit 1
