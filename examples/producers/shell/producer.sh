#!/bin/sh
# Pushes one event onto hookd's queue with redis-cli, the envelope built by jq
# (Debian: redis-tools, jq).
#
#   sh producer.sh [EVENT [DATA_JSON [ID]]]
#   sh producer.sh person.created '{"id":"1","firstName":"Alice"}'
#   sh producer.sh person.created - <record.json    # DATA_JSON from standard input
#
# HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0) and HOOKD_PREFIX (default
# hookd) name the Redis and the namespace, as for hookd itself. HOOKD_PREFIX may
# be a list (a,b,c), or one BASE with HOOKD_SHARDS=N (BASE:0 ... BASE:N-1);
# HOOKD_WORKSPACE sets the envelope's workspace, which picks the namespace
# (docs/producers.md, "Several namespaces"). Prints
# {"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
# namespace it chose.
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

# hookd's namespaces, one a line: the HOOKD_PREFIX list in its order, or
# BASE:0 .. BASE:N-1 with HOOKD_SHARDS=N.
namespaces() {  # namespaces PREFIX SHARDS
    jq -rn --arg prefix "$1" --arg shards "$2" '
        ($prefix | split(",")) as $names
        | ($names | map(select(test("\\A[A-Za-z0-9_.:-]{1,64}\\z") | not))) as $bad
        | if $bad != [] then
            "HOOKD_PREFIX: \($bad[0] | tojson) is not 1..64 bytes of [A-Za-z0-9_.:-]"
            | halt_error(2)
        elif ($names | unique | length) != ($names | length) then
            "HOOKD_PREFIX names a namespace twice" | halt_error(2)
        elif $shards == "" then $names[]
        elif ($shards | test("\\A[0-9]+\\z") | not) or ($shards | tonumber) > 256 then
            "HOOKD_SHARDS must be a number from 0 (off) to 256" | halt_error(2)
        elif ($shards | tonumber) == 0 then $names[]
        elif ($names | length) != 1 then
            "HOOKD_SHARDS takes a single HOOKD_PREFIX" | halt_error(2)
        else range($shards | tonumber) | "\($names[0]):\(.)" end'
}

# h(W) mod N: the first 4 bytes (8 hex digits) of SHA-256(W) as a big-endian
# unsigned integer, modulo N. The namespace of workspace W is ns[h(W) mod n].
ns_index() {  # ns_index WORKSPACE N
    if command -v sha256sum >/dev/null; then
        h=$(printf '%s' "$1" | sha256sum | cut -c1-8)
    else
        h=$(printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-8)
    fi
    echo $((0x$h % $2))
}

[ $# -le 3 ] || usage "too many arguments"
event=${1:-person.created}
data=${2:-'{"id":"abc12345","firstName":"Alice","lastName":"Doe","email":"alice@example.com"}'}
id=${3:-evt_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
workspace=${HOOKD_WORKSPACE:-}

# jq checks every field and writes the envelope; no JSON is pasted together
# by hand, so quotes or newlines in the data cannot break it. A DATA_JSON of
# "-" is read from standard input (one argument is limited to 128 KiB).
if [ "$data" = - ]; then
    set -- --rawfile data /dev/stdin
else
    set -- --arg data "$data"
fi
envelope=$(jq -cn --arg event "$event" "$@" --arg id "$id" --arg workspace "$workspace" \
    --arg timestamp "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    if ($event | test("^[A-Za-z0-9_-]{1,64}\\.[A-Za-z0-9_-]{1,64}$") | not) then
        "event \($event | tojson) is not <object>.<action>" | halt_error(2)
    elif ($id | test("^[A-Za-z0-9_.:-]{1,128}$") | not) then
        "id \($id | tojson) is not 1..128 bytes of [A-Za-z0-9_.:-]" | halt_error(2)
    elif $workspace != "" and ($workspace | test("\\A[A-Za-z0-9_.:-]{1,128}\\z") | not) then
        "HOOKD_WORKSPACE \($workspace | tojson) is not 1..128 bytes of [A-Za-z0-9_.:-]"
        | halt_error(2)
    else
        ($data | try fromjson catch ("DATA_JSON is not JSON" | halt_error(2))) as $d
        | if ($d | type) != "object" then "DATA_JSON must be a JSON object" | halt_error(2)
          else {event: $event, data: $d, timestamp: $timestamp, id: $id}
               + if $workspace != "" then {workspace: $workspace} else {} end end
    end' 2>&1) || usage "$envelope"

# The workspace picks the namespace; no workspace: the first.
all=$(namespaces "${HOOKD_PREFIX:-hookd}" "${HOOKD_SHARDS:-}" 2>&1) || usage "$all"
i=0
[ -z "$workspace" ] || i=$(ns_index "$workspace" "$(printf '%s\n' "$all" | wc -l)")
ns=$(printf '%s\n' "$all" | sed -n "$((i + 1))p")
key="{$ns}:events"
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
jq -cn --arg id "$id" --arg ns "$ns" '{pushed: 1, id: $id, namespace: $ns}'
