/* scripts.c - every Lua script hookd runs in Redis, each with its KEYS and
 * ARGV contract above it.
 *
 * Keys come in KEYS, named by schema.h; keys per id (a webhook's hash, its
 * attempt log, a host's parked set) are built in the script from the
 * prefix in ARGV, as "{" .. prefix .. "}:" and schema.h's HOOKD_SUFFIX_*
 * text spliced in, so no script spells a key name of its own. */
#include "hookd/scripts.h"

#include "hookd/schema.h"
#include "hookd/webhook.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The script functions that read webhook records for the worker and the CLI
 * alike: record(key) returns the hash's pairs, or a string that says why it
 * cannot: "none" (no hash), the key's type when it is not a hash,
 * "fields:N" or "bytes:N" over webhook.h's caps, so that no record too large
 * for hookd travels and no key of the wrong type fails the script;
 * webhooks() returns {rev} when the revision in KEYS[ki] equals ARGV[ri],
 * else {rev, id, record, ...} for every id in the set KEYS[ki+1];
 * ARGV[ri-1] is the prefix. The CLI and the registry judge what they return
 * with hookd_webhook_parse(). */
// clang-format off
#define WEBHOOK_LUA(ki, ri)                                                        \
    "local function record(k)\n"                                                   \
    "  local t = redis.call('TYPE', k)['ok']\n"                                    \
    "  if t ~= 'hash' then return t end\n"                                         \
    "  local n = redis.call('HLEN', k)\n"                                          \
    "  if n > " STR(HOOKD_WEBHOOK_FIELDS_MAX) " then return 'fields:' .. n end\n"  \
    "  local kv, b = redis.call('HGETALL', k), 0\n"                                \
    "  for i = 1, #kv do b = b + #kv[i] end\n"                                     \
    "  if b > " STR(HOOKD_WEBHOOK_RECORD_MAX) " then return 'bytes:' .. b end\n"   \
    "  return kv\n"                                                                \
    "end\n"                                                                        \
    "local function webhooks()\n"                                                  \
    "  local rev = redis.call('GET', KEYS[" #ki "]) or '0'\n"                      \
    "  if rev == ARGV[" #ri "] then return {rev} end\n"                            \
    "  local out = {rev}\n"                                                        \
    "  for _, id in ipairs(redis.call('SMEMBERS', KEYS[" #ki " + 1])) do\n"        \
    "    out[#out+1] = id\n"                                                       \
    "    out[#out+1] = record('{' .. ARGV[" #ri " - 1] .. '}:"                      \
    HOOKD_SUFFIX_WEBHOOK_OF "' .. id)\n"                                           \
    "  end\n"                                                                      \
    "  return out\n"                                                               \
    "end\n"
// clang-format on

/* ---- the loops' scripts (queue.c), loaded once per connection ---- */

/* KEYS: events leases jobs retry seq rev webhooks. ARGV: lease_ms, n, prefix,
 * the webhook revision loaded, the envelope cap, the job cap, a byte budget, HOOKD_QUEUE_CUT_KEEP.
 * Returns {now_ms, webhooks, base, {event, ...}, next_due, token, payload,
 * ...}: expired leases (work of a worker that died) and due retries as
 * pairs, then up to n of them in all, new events, whose tokens are "e:" ..
 * base + i, i counting from 1; base is 0 when there are none. The webhooks
 * come along when they changed, so that an event is never judged against
 * webhooks older than the event. Every token taken is leased by one ZADD at
 * the end. When nothing was taken, next_due is the due time of the earliest
 * retry (one ZRANGE), so that a worker waiting for events can wake for it;
 * else, or when there is none, -1.
 *
 * What would cost hookd memory it must not spend never leaves Redis: an
 * event over the envelope cap (or one that starts with a NUL byte, which no
 * envelope may hold) is replaced, in the reply and in {P}:jobs alike, by a
 * cut: NUL, its size in decimal, ':', its first HOOKD_QUEUE_CUT_KEEP bytes; so is
 * a leased or retried payload over the job cap. Items stop once the budget
 * would be passed (the first always comes); events popped past it go back
 * where they were. */
static const char TAKE_LUA[] = WEBHOOK_LUA(
    6, 4) "local t = redis.call('TIME')\n"
          "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
          "local deadline = string.format('%d', now + tonumber(ARGV[1]))\n"
          "local n = tonumber(ARGV[2])\n"
          "local cap_env, cap_job = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
          "local budget, keep, bytes = tonumber(ARGV[7]), tonumber(ARGV[8]), 0\n"
          "local out = {now, webhooks(), 0, {}, -1}\n"
          "local k, got, z = 5, 0, {}\n"
          "local function cut(p)\n"
          "  return '\\0' .. #p .. ':' .. string.sub(p, 1, keep)\n"
          "end\n"
          "local function claim(toks, taken, gone)\n"
          "  if #toks == 0 then return end\n"
          "  local ps = redis.call('HMGET', KEYS[3], unpack(toks))\n"
          "  for i = 1, #toks do\n"
          "    local p = ps[i]\n"
          "    if p then\n"
          "      if #p > cap_job then p = cut(p) end\n"
          "      if got > 0 and bytes + #p > budget then break end\n"
          "      bytes = bytes + #p\n"
          "      z[#z+1] = deadline; z[#z+1] = toks[i]\n"
          "      out[k+1] = toks[i]; out[k+2] = p; k = k + 2; got = got + 1\n"
          "      if taken then taken[#taken+1] = toks[i] end\n"
          "    else gone[#gone+1] = toks[i] end\n"
          "  end\n"
          "end\n"
          "local gone = {}\n"
          "claim(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, n), nil, gone)\n"
          "if #gone > 0 then redis.call('ZREM', KEYS[2], unpack(gone)) end\n"
          "if got < n then\n"
          "  local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, n - got)\n"
          "  local taken = {}\n"
          "  claim(due, taken, taken)\n"
          "  if #taken > 0 then redis.call('ZREM', KEYS[4], unpack(taken)) end\n"
          "end\n"
          "if got < n and (got == 0 or bytes < budget) then\n"
          "  local evs = redis.call('RPOP', KEYS[1], n - got)\n"
          "  if evs then\n"
          "    local m, c = #evs, 0\n"
          "    for i = 1, m do\n"
          "      local e = evs[i]\n"
          "      if #e > cap_env or string.byte(e, 1) == 0 then e = cut(e) end\n"
          "      if got + c > 0 and bytes + #e > budget then break end\n"
          "      evs[i] = e; bytes = bytes + #e; c = c + 1\n"
          "    end\n"
          "    if c < m then\n"
          "      local back = {}\n"
          "      for i = m, c + 1, -1 do back[#back+1] = evs[i]; evs[i] = nil end\n"
          "      redis.call('RPUSH', KEYS[1], unpack(back))\n"
          "    end\n"
          "    if c > 0 then\n"
          "      local j, h, fmt = #z, {}, string.format\n"
          "      local base = redis.call('INCRBY', KEYS[5], c) - c\n"
          "      for i = 1, c do\n"
          "        local tok = fmt('e:%d', base + i)\n"
          "        h[2*i-1] = tok; h[2*i] = evs[i]\n"
          "        z[j+2*i-1] = deadline; z[j+2*i] = tok\n"
          "      end\n"
          "      redis.call('HSET', KEYS[3], unpack(h))\n"
          "      out[3] = base; out[4] = evs; got = got + c\n"
          "    end\n"
          "  end\n"
          "end\n"
          "if #z > 0 then redis.call('ZADD', KEYS[2], unpack(z)) end\n"
          "if got == 0 then\n"
          "  local r = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')\n"
          "  local d = tonumber(r[2] or '')\n"
          "  if d and d >= 0 and d < 1e15 then out[5] = math.floor(d) end\n"
          "end\n"
          "return out\n";

/* The rounds of 1,000 in which closing a circuit moves its parked
 * deliveries. */
#define CLOSE_MOVE_ROUNDS "10"

/* KEYS: leases jobs retry dead stats. ARGV: prefix, dead_max, then
 * operations:  a N TOKEN... | r TOKEN DUE JOB | x TOKEN RECORD
 *            | g WEBHOOK REASON NOW LAST_ERROR | c COUNTER N
 *            | p TOKEN HOST SCORE JOB | o HOST NOW MIN MAX REOPEN | k HOST NOW
 *            | f WEBHOOK NOW WINDOW REASON LAST_ERROR | h WEBHOOK
 *            | H FIELD VALUE | D FIELD
 * "a" acknowledges a run of N tokens (N written as four digits, so that the
 * client can count the run up in place) with one ZREM and one HDEL, in order
 * with the operations around it. "g" disables a webhook and appends
 * webhook.disabled to {P}:ops. "p" parks a delivery under its host, "o" opens
 * (or, REOPEN 1, re-opens after a failed probe with the interval doubled up
 * to MAX) a host's circuit, "k" closes it and moves up to CLOSE_MOVE_MAX of
 * its parked deliveries to the retry set, due now (the tend script's sweep
 * moves the rest). "f" notes a failed attempt for auto-disable: the first
 * sets failing_since, one WINDOW ms after it (WINDOW > 0) disables; "h" notes
 * a success. "H" and "D" write and remove a field of {P}:health. A webhook
 * key that is not a hash is left alone. Circuit records follow health.h.
 * Returns {webhook, kind ("gone" or "failing"), workspace, reason,
 * last_error, at, ...} for each webhook this batch disabled. */
static const char SETTLE_LUA[] =
    "local P = '{' .. ARGV[1] .. '}:'\n"
    "local dead_max = tonumber(ARGV[2])\n"
    "local function hash(k) return redis.call('TYPE', k).ok == 'hash' end\n"
    "local told = {}\n"
    "local function disable(id, kind, reason, last_error, now)\n"
    "  local k = P .. '" HOOKD_SUFFIX_WEBHOOK_OF "' .. id\n"
    "  if not hash(k) or redis.call('HGET', k, 'enabled') == '0' then return end\n"
    "  redis.call('HSET', k, 'enabled', '0', 'disabled_reason', reason, 'disabled_at', now)\n"
    "  redis.call('HDEL', k, 'failing_since')\n"
    "  redis.call('INCR', P .. 'webhooks:rev')\n"
    "  local ws = redis.call('HGET', k, 'workspace') or ''\n"
    "  redis.call('XADD', P .. 'ops', 'MAXLEN', '~', '10000', '*', 'type', 'webhook.disabled',\n"
    "    'webhook', id, 'workspace', ws, 'reason', reason, 'last_error', last_error, 'at', now)\n"
    "  for _, v in ipairs({id, kind, ws, reason, last_error, now}) do told[#told+1] = v end\n"
    "end\n"
    "local i, n = 3, #ARGV\n"
    "while i <= n do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'a' then\n"
    "    local j = i + 1 + tonumber(ARGV[i+1])\n"
    "    redis.call('ZREM', KEYS[1], unpack(ARGV, i + 2, j))\n"
    "    redis.call('HDEL', KEYS[2], unpack(ARGV, i + 2, j))\n"
    "    i = j + 1\n"
    "  elseif op == 'r' then\n"
    "    redis.call('HSET', KEYS[2], ARGV[i+1], ARGV[i+3])\n"
    "    redis.call('ZADD', KEYS[3], ARGV[i+2], ARGV[i+1])\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i+1]); i = i + 4\n"
    "  elseif op == 'x' then\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i+1]); redis.call('HDEL', KEYS[2], ARGV[i+1])\n"
    "    redis.call('LPUSH', KEYS[4], ARGV[i+2]); redis.call('LTRIM', KEYS[4], 0, dead_max - 1)\n"
    "    i = i + 3\n"
    "  elseif op == 'g' then\n"
    "    disable(ARGV[i+1], 'gone', ARGV[i+2], ARGV[i+4], ARGV[i+3]); i = i + 5\n"
    "  elseif op == 'p' then\n"
    "    redis.call('HSET', KEYS[2], ARGV[i+1], ARGV[i+4])\n"
    "    redis.call('ZADD', P .. '" HOOKD_SUFFIX_PARKED_OF "' .. ARGV[i+2], ARGV[i+3], ARGV[i+1])\n"
    "    redis.call('SADD', P .. 'parked', ARGV[i+2])\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i+1]); i = i + 5\n"
    "  elseif op == 'o' then\n"
    "    local h, now = ARGV[i+1], tonumber(ARGV[i+2])\n"
    "    local v = redis.call('HGET', P .. 'circuit', h)\n"
    "    if not v or ARGV[i+5] == '1' then\n"
    "      local iv, at = tonumber(ARGV[i+3]), now\n"
    "      local _, pi, oa = string.match(v or '', '^(%d+) (%d+) (%d+)$')\n"
    "      if pi then iv = math.min(tonumber(ARGV[i+4]), math.max(iv, tonumber(pi) * 2));"
    " at = tonumber(oa) end\n"
    "      redis.call('HSET', P .. 'circuit', h, string.format('%d %d %d', now + iv, iv, at))\n"
    "      redis.call('DEL', P .. 'probe:' .. h)\n"
    "      redis.call('INCR', P .. 'circuit:rev')\n"
    "    end\n"
    "    i = i + 6\n"
    "  elseif op == 'k' then\n"
    "    local h = ARGV[i+1]\n"
    "    if redis.call('HDEL', P .. 'circuit', h) == 1 then redis.call('INCR', P .. 'circuit:rev') "
    "end\n"
    "    redis.call('DEL', P .. 'probe:' .. h)\n"
    "    local pk = P .. '" HOOKD_SUFFIX_PARKED_OF "' .. h\n"
    "    for _ = 1, " CLOSE_MOVE_ROUNDS " do\n"
    "      local m = redis.call('ZPOPMIN', pk, 1000)\n"
    "      if #m == 0 then break end\n"
    "      local z = {}\n"
    "      for j = 1, #m, 2 do z[#z+1] = ARGV[i+2]; z[#z+1] = m[j] end\n"
    "      redis.call('ZADD', KEYS[3], unpack(z))\n"
    "    end\n"
    "    if redis.call('EXISTS', pk) == 0 then redis.call('SREM', P .. 'parked', h) end\n"
    "    i = i + 3\n"
    "  elseif op == 'f' then\n"
    "    local k, now = P .. '" HOOKD_SUFFIX_WEBHOOK_OF "' .. ARGV[i+1], tonumber(ARGV[i+2])\n"
    "    if hash(k) then\n"
    "      local since = tonumber(redis.call('HGET', k, 'failing_since') or '')\n"
    "      if not since then redis.call('HSET', k, 'failing_since', ARGV[i+2])\n"
    "      elseif tonumber(ARGV[i+3]) > 0 and now - since >= tonumber(ARGV[i+3]) then\n"
    "        disable(ARGV[i+1], 'failing', ARGV[i+4], ARGV[i+5], ARGV[i+2])\n"
    "      end\n"
    "    end\n"
    "    i = i + 6\n"
    "  elseif op == 'h' then\n"
    "    local k = P .. '" HOOKD_SUFFIX_WEBHOOK_OF "' .. ARGV[i+1]\n"
    "    if hash(k) then redis.call('HDEL', k, 'failing_since') end\n"
    "    i = i + 2\n"
    "  elseif op == 'H' then\n"
    "    redis.call('HSET', P .. 'health', ARGV[i+1], ARGV[i+2]); i = i + 3\n"
    "  elseif op == 'D' then\n"
    "    redis.call('HDEL', P .. 'health', ARGV[i+1]); i = i + 2\n"
    "  elseif op == 'c' then\n"
    "    redis.call('HINCRBY', KEYS[5], ARGV[i+1], ARGV[i+2]); i = i + 3\n"
    "  else\n"
    "    return redis.error_reply('settle: unknown op ' .. tostring(op))\n"
    "  end\n"
    "end\n"
    "return told\n";

/* KEYS: circuit circuit:rev parked retry leases jobs. ARGV: prefix, the
 * circuit revision known, lease_ms, probes at most, parked deliveries one
 * host's sweep moves at most, the job cap. Runs twice a second per loop:
 * returns {revision, the circuit table as field, value pairs (or false when
 * the revision is known, or "too many" past HOOKD_SCRIPT_CIRCUIT_MAX), {host, token,
 * job, ...}, moved}. For each open circuit whose probe is due it claims the
 * host's probe (SET NX, for a lease: the outcome ends the claim) and leases
 * the oldest parked delivery to the caller; a circuit with nothing parked is
 * closed (nothing is waiting for it). It then sweeps: the parked deliveries
 * of hosts whose circuit is closed, and of webhooks no longer disabled
 * (HOOKD_PARK_WEBHOOK), parked until now or earlier, go to the retry set,
 * due now. */
static const char TEND_LUA[] =
    "local P = '{' .. ARGV[1] .. '}:'\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local lease = tonumber(ARGV[3])\n"
    "local n = redis.call('HLEN', KEYS[1])\n"
    "local all = {}\n"
    "if n > 0 and n <= " STR(
        HOOKD_SCRIPT_CIRCUIT_MAX) " then all = redis.call('HGETALL', KEYS[1]) end\n"
                                  "local rev = redis.call('GET', KEYS[2]) or '0'\n"
                                  "local out = {rev, false, {}, 0}\n"
                                  "if rev ~= ARGV[2] then out[2] = n > " STR(
                                      HOOKD_SCRIPT_CIRCUIT_MAX) " and 'too many' or all end\n"
                                                                "local probes = out[3]\n"
                                                                "for j = 1, #all, 2 do\n"
                                                                "  local h = all[j]\n"
                                                                "  local u = "
                                                                "tonumber(string.match(all[j+1], "
                                                                "'^(%d+) ') or '')\n"
                                                                "  if u and u <= now and #probes < "
                                                                "3 * tonumber(ARGV[4]) and\n"
                                                                "     redis.call('SET', P .. "
                                                                "'probe:' .. h, '1', 'NX', 'PX', "
                                                                "lease) then\n"
                                                                "    local pk = P .. "
                                                                "'" HOOKD_SUFFIX_PARKED_OF "' .. "
                                                                "h\n"
                                                                "    local m = "
                                                                "redis.call('ZPOPMIN', pk, 1)\n"
                                                                "    if #m == 0 then\n"
                                                                "      redis.call('HDEL', KEYS[1], "
                                                                "h); redis.call('INCR', KEYS[2])\n"
                                                                "      redis.call('DEL', P .. "
                                                                "'probe:' .. h); "
                                                                "redis.call('SREM', KEYS[3], h)\n"
                                                                "    else\n"
                                                                "      local job = "
                                                                "redis.call('HGET', KEYS[6], "
                                                                "m[1])\n"
                                                                "      if job and #job > "
                                                                "tonumber(ARGV[6]) then\n"
                                                                "        redis.call('ZADD', "
                                                                "KEYS[4], now, m[1]); "
                                                                "redis.call('DEL', P .. 'probe:' "
                                                                ".. h)\n"
                                                                "      else\n"
                                                                "        redis.call('ZADD', "
                                                                "KEYS[5], now + lease, m[1])\n"
                                                                "        probes[#probes+1] = h; "
                                                                "probes[#probes+1] = m[1]; "
                                                                "probes[#probes+1] = job or ''\n"
                                                                "      end\n"
                                                                "      if redis.call('EXISTS', pk) "
                                                                "== 0 then redis.call('SREM', "
                                                                "KEYS[3], h) end\n"
                                                                "    end\n"
                                                                "  end\n"
                                                                "end\n"
                                                                "local moved = 0\n"
                                                                "for _, h in "
                                                                "ipairs(redis.call('SRANDMEMBER', "
                                                                "KEYS[3], 100)) do\n"
                                                                "  local wid, ready = "
                                                                "string.match(h, "
                                                                "'^" HOOKD_PARK_WEBHOOK "(.+)$')\n"
                                                                "  if wid then ready = "
                                                                "redis.pcall('HGET', P .. "
                                                                "'" HOOKD_SUFFIX_WEBHOOK_OF
                                                                "' .. wid, 'enabled') ~= "
                                                                "'0'\n"
                                                                "  else ready = "
                                                                "redis.call('HEXISTS', KEYS[1], h) "
                                                                "== 0 end\n"
                                                                "  if ready then\n"
                                                                "    local pk = P .. "
                                                                "'" HOOKD_SUFFIX_PARKED_OF "' .. "
                                                                "h\n"
                                                                "    local m = "
                                                                "redis.call('ZRANGEBYSCORE', pk, "
                                                                "'-inf', now, 'LIMIT', 0, "
                                                                "tonumber(ARGV[5]))\n"
                                                                "    if #m > 0 then\n"
                                                                "      local z = {}\n"
                                                                "      for j = 1, #m do z[2*j-1] = "
                                                                "now; z[2*j] = m[j] end\n"
                                                                "      redis.call('ZADD', KEYS[4], "
                                                                "unpack(z)); redis.call('ZREM', "
                                                                "pk, unpack(m))\n"
                                                                "      moved = moved + #m\n"
                                                                "    end\n"
                                                                "    if redis.call('EXISTS', pk) "
                                                                "== 0 then redis.call('SREM', "
                                                                "KEYS[3], h) end\n"
                                                                "  end\n"
                                                                "end\n"
                                                                "out[4] = moved\n"
                                                                "return out\n";

/* KEYS: leases. ARGV: lease_ms, tokens... Extends the leases still held. */
static const char RENEW_LUA[] =
    "local t = redis.call('TIME')\n"
    "local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + "
    "tonumber(ARGV[1])\n"
    "for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i]) end\n"
    "return 0\n";

/* KEYS: rev, webhooks. ARGV: prefix, the revision already loaded. */
static const char REGISTRY_LUA[] = WEBHOOK_LUA(1, 2) "return webhooks()\n";

/* ---- the CLI's scripts (admin.c, cli.c), sent by EVAL ---- */

/* KEYS: parked, health. ARGV: prefix, the most members and fields read, the
 * record cap. Returns {deliveries parked (under the first members read),
 * Redis' clock in ms, health values within the cap ...}; no values when the
 * hash holds more fields than the most. */
static const char HOSTS_LUA[] =
    "local P = '{' .. ARGV[1] .. '}:'\n"
    "local t = redis.call('TIME')\n"
    "local out = {0, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}\n"
    "local most = tonumber(ARGV[2])\n"
    "for _, h in ipairs(redis.call('SRANDMEMBER', KEYS[1], most)) do\n"
    "  local n = redis.pcall('ZCARD', P .. '" HOOKD_SUFFIX_PARKED_OF "' .. h)\n"
    "  if type(n) == 'number' then out[1] = out[1] + n end\n"
    "end\n"
    "if redis.call('HLEN', KEYS[2]) <= most then\n"
    "  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do\n"
    "    if #v <= tonumber(ARGV[3]) then out[#out+1] = v end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: dead, jobs, retry, events. ARGV: the record, "d" or "e", then for
 * "d" the token, payload and due time, for "e" the envelope. Takes the
 * oldest copy of the record out of the dead list and puts its work back;
 * returns 0 when the record was gone already. */
static const char REPLAY_LUA[] =
    "if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end\n"
    "if ARGV[2] == 'd' then\n"
    "  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])\n"
    "  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])\n"
    "else\n"
    "  redis.call('LPUSH', KEYS[4], ARGV[3])\n"
    "end\n"
    "return 1\n";

/* KEYS: events. ARGV: the envelope cap. The oldest event, or nil when there
 * is none or it is over the cap. */
static const char OLDEST_LUA[] = "local v = redis.call('LINDEX', KEYS[1], -1)\n"
                                 "if v and #v > tonumber(ARGV[1]) then return false end\n"
                                 "return v\n";

/* KEYS: dead. Returns how many records it held. */
static const char PURGE_LUA[] = "local n = redis.call('LLEN', KEYS[1])\n"
                                "redis.call('DEL', KEYS[1])\n"
                                "return n\n";

/* KEYS: webhook hash, id set, rev counter. ARGV: mode ("add" refuses an
 * existing hash, "update" a missing one), id, fields to delete (separated
 * by spaces, or ""),
 * then field/value pairs. Returns the hash's pairs after the change, or
 * false when the precondition failed. */
static const char WH_PUT_LUA[] =
    "local e = redis.call('EXISTS', KEYS[1])\n"
    "if (ARGV[1] == 'add' and e == 1) or (ARGV[1] == 'update' and e == 0) then\n"
    "  return false\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
    "for f in string.gmatch(ARGV[3], '%S+') do redis.call('HDEL', KEYS[1], f) end\n"
    "redis.call('SADD', KEYS[2], ARGV[2])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS: webhook hash, id set, rev counter. ARGV: id. Returns 1 when the
 * webhook existed. */
static const char WH_DEL_LUA[] = "local n = redis.call('DEL', KEYS[1])\n"
                                 "local m = redis.call('SREM', KEYS[2], ARGV[1])\n"
                                 "if n + m > 0 then redis.call('INCR', KEYS[3]) end\n"
                                 "return n\n";

/* KEYS: rev, id set, webhook hash. ARGV: prefix, "". record() of the hash. */
static const char WH_RECORD_LUA[] = WEBHOOK_LUA(1, 2) "return record(KEYS[3])\n";
/* KEYS: rev, id set, webhook hash. ARGV: prefix, "", id. record() of the
 * hash when it exists or the id is listed, else nil. */
static const char WH_SHOW_LUA[] =
    WEBHOOK_LUA(1, 2) "if redis.call('EXISTS', KEYS[3]) == 0 and\n"
                      "   redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then\n"
                      "  return false\n"
                      "end\n"
                      "return record(KEYS[3])\n";
/* KEYS: rev, id set. ARGV: prefix, "". Every webhook, as the worker reads
 * them: {rev, id, record, ...}. */
static const char WH_ALL_LUA[] = WEBHOOK_LUA(1, 2) "return webhooks()\n";
/* KEYS: rev, id set. ARGV: prefix, the id after which the page starts ("":
 * the first), how many. {more, id, record, ...}, sorted by id; more is 1
 * when ids follow the last one. */
static const char WH_PAGE_LUA[] =
    WEBHOOK_LUA(1, 2) "local ids = redis.call('SMEMBERS', KEYS[2])\n"
                      "table.sort(ids)\n"
                      "local out, n, limit = {0}, 0, tonumber(ARGV[3])\n"
                      "for _, id in ipairs(ids) do\n"
                      "  if id > ARGV[2] then\n"
                      "    if n == limit then out[1] = 1; break end\n"
                      "    n = n + 1\n"
                      "    out[#out+1] = id\n"
                      "    out[#out+1] = record('{' .. ARGV[1] .. '}:" HOOKD_SUFFIX_WEBHOOK_OF
                      "' .. id)\n"
                      "  end\n"
                      "end\n"
                      "return out\n";

/* ---- the backlog's scripts (backlog.c), sent by EVAL ---- */

/* KEYS: dead. ARGV: start, stop (LRANGE indexes), the record cap. Returns
 * {length of the list, record, ...}, a record over the cap as NUL and its
 * size in decimal. */
static const char DEAD_PAGE_LUA[] =
    "local out = {redis.call('LLEN', KEYS[1])}\n"
    "local cap = tonumber(ARGV[3])\n"
    "for _, v in ipairs(redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])) do\n"
    "  if #v > cap then v = '\\0' .. #v end\n"
    "  out[#out+1] = v\n"
    "end\n"
    "return out\n";

/* KEYS: dead. ARGV: records. Removes the oldest copy of each; returns how
 * many were there. */
static const char DEAD_REMOVE_LUA[] = "local n = 0\n"
                                      "for i = 1, #ARGV do\n"
                                      "  n = n + redis.call('LREM', KEYS[1], -1, ARGV[i])\n"
                                      "end\n"
                                      "return n\n";

/* KEYS: retry, jobs. ARGV: start, stop (ZRANGE ranks), the job cap. Returns
 * {token, due (ms), job, ...}, the job false when {P}:jobs has none and NUL
 * and its size in decimal when over the cap. */
static const char RETRY_PAGE_LUA[] =
    "local z = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')\n"
    "local out, cap = {}, tonumber(ARGV[3])\n"
    "for i = 1, #z, 2 do\n"
    "  local p = redis.call('HGET', KEYS[2], z[i])\n"
    "  if p and #p > cap then p = '\\0' .. #p end\n"
    "  out[#out+1] = z[i]; out[#out+1] = z[i+1]; out[#out+1] = p\n"
    "end\n"
    "return out\n";

/* KEYS: retry, leases. ARGV: token. When the token waits in the retry set
 * and no worker leases it, makes it due now (Redis' clock); returns 1, else
 * 0. A take that leases it removes it from the retry set in one script, so
 * the two never both win. */
static const char RETRY_NOW_LUA[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
    "if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "return 1\n";

/* KEYS: retry, jobs, leases. ARGV: token. When the token waits in the retry
 * set and no worker leases it, drops it and its job; returns 1, else 0. */
static const char RETRY_DELETE_LUA[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
    "if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end\n"
    "redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "return 1\n";

static const char *const SCRIPTS[HOOKD_S_COUNT] = {
    [HOOKD_S_TAKE] = TAKE_LUA,
    [HOOKD_S_SETTLE] = SETTLE_LUA,
    [HOOKD_S_RENEW] = RENEW_LUA,
    [HOOKD_S_REGISTRY] = REGISTRY_LUA,
    [HOOKD_S_TEND] = TEND_LUA,
    [HOOKD_S_HOSTS] = HOSTS_LUA,
    [HOOKD_S_REPLAY] = REPLAY_LUA,
    [HOOKD_S_OLDEST] = OLDEST_LUA,
    [HOOKD_S_PURGE] = PURGE_LUA,
    [HOOKD_S_WEBHOOK_PUT] = WH_PUT_LUA,
    [HOOKD_S_WEBHOOK_DEL] = WH_DEL_LUA,
    [HOOKD_S_WEBHOOK_RECORD] = WH_RECORD_LUA,
    [HOOKD_S_WEBHOOK_SHOW] = WH_SHOW_LUA,
    [HOOKD_S_WEBHOOK_ALL] = WH_ALL_LUA,
    [HOOKD_S_WEBHOOK_PAGE] = WH_PAGE_LUA,
    [HOOKD_S_DEAD_PAGE] = DEAD_PAGE_LUA,
    [HOOKD_S_DEAD_REMOVE] = DEAD_REMOVE_LUA,
    [HOOKD_S_RETRY_PAGE] = RETRY_PAGE_LUA,
    [HOOKD_S_RETRY_NOW] = RETRY_NOW_LUA,
    [HOOKD_S_RETRY_DELETE] = RETRY_DELETE_LUA,
};

const char *hookd_script(enum hookd_script_id id)
{
    return SCRIPTS[id];
}
