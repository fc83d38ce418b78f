#!/bin/sh
# Pushes one event onto hookd's queue with redis-cli, the envelope built by jq
# (Debian: redis-tools, jq).
#
#   sh producer.sh [EVENT [DATA_JSON [ID]]]
#   sh producer.sh person.created '{"id":"1","firstName":"Alice"}'
#   sh producer.sh person.created - <record.json    # DATA_JSON from standard input
#
# HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
# hookd) name the Redis and the namespace, as for hookd itself. Prints
# {"pushed":1,"id":"evt_..."} like `hookd enqueue`.
#
# redis-cli (7.0) does not percent-decode a password in the URL: when yours
# has a reserved character (@ : / %), leave it out of HOOKD_REDIS_URL and
# export REDISCLI_AUTH=<password>, which redis-cli reads instead.
#
# jq reads numbers as doubles (jq 1.6): an integer beyond 2^53 in DATA_JSON
# loses digits. Pass such ids as strings, or use `hookd enqueue`, which pushes
# DATA_JSON's bytes unchanged.
set -eu

usage() {
    printf 'producer.sh: %s\nusage: producer.sh [EVENT [DATA_JSON [ID]]]\n' "$1" >&2
    exit 2
}

[ $# -le 3 ] || usage "too many arguments"
event=${1:-person.created}
data=${2:-'{"id":"abc12345","firstName":"Alice","lastName":"Doe","email":"alice@example.com"}'}
id=${3:-evt_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}

# jq checks every field and writes the envelope; no JSON is pasted together
# by hand, so quotes or newlines in the data cannot break it. A DATA_JSON of
# "-" is read from standard input (one argument is limited to 128 KiB).
if [ "$data" = - ]; then
    set -- --rawfile data /dev/stdin
else
    set -- --arg data "$data"
fi
envelope=$(jq -cn --arg event "$event" "$@" --arg id "$id" \
    --arg timestamp "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    if ($event | test("^[A-Za-z0-9_-]{1,64}\\.[A-Za-z0-9_-]{1,64}$") | not) then
        "event \($event | tojson) is not <object>.<action>" | halt_error(2)
    elif ($id | test("^[A-Za-z0-9_.:-]{1,128}$") | not) then
        "id \($id | tojson) is not 1..128 bytes of [A-Za-z0-9_.:-]" | halt_error(2)
    else
        ($data | try fromjson catch ("DATA_JSON is not JSON" | halt_error(2))) as $d
        | if ($d | type) != "object" then "DATA_JSON must be a JSON object" | halt_error(2)
          else {event: $event, data: $d, timestamp: $timestamp, id: $id} end
    end' 2>&1) || usage "$envelope"

key="{${HOOKD_PREFIX:-hookd}}:events"
# -x takes the envelope from standard input as the last argument, so that it
# is not bound by the kernel's 128 KiB limit on one command-line argument.
# redis-cli exits 1 when it cannot connect, but prints an error reply and
# exits 0 (Redis 7.0), so the reply must be an integer: the list's length.
reply=$(printf '%s' "$envelope" |
    redis-cli --no-auth-warning -u "${HOOKD_REDIS_URL:-redis://127.0.0.1:6379/0}" \
        -x LPUSH "$key" 2>&1) || { echo "producer.sh: redis: $reply" >&2; exit 1; }
case $reply in
'' | *[!0-9]*) echo "producer.sh: redis: $reply" >&2; exit 1 ;;
esac
jq -cn --arg id "$id" '{pushed: 1, id: $id}'
