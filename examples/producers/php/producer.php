<?php
// Pushes one event onto hookd's queue with phpredis (pecl redis; Debian: php-redis).
//
//   php producer.php [EVENT [DATA_JSON [ID]]]
//   php producer.php person.created '{"id":"1","firstName":"Alice"}'
//
// HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0; also
// redis://user:password@host:port/db and unix:///path/redis.sock) and
// HOOKD_PREFIX (default hookd) name the Redis and the namespace, as for hookd
// itself. HOOKD_PREFIX may be a list (a,b,c), or one BASE with HOOKD_SHARDS=N
// (BASE:0 ... BASE:N-1); HOOKD_WORKSPACE sets the envelope's workspace, which
// picks the namespace (docs/producers.md, "Several namespaces"). Prints
// {"pushed":1,"id":"evt_...","namespace":"..."} like `hookd enqueue`, plus the
// namespace it chose.

declare(strict_types=1);

const EVENT_RE = '/\A[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}\z/';
const ID_RE = '/\A[A-Za-z0-9_.:-]{1,128}\z/';
const PREFIX_RE = '/\A[A-Za-z0-9_.:-]{1,64}\z/';
// Keep what the record says: no "\/" for "/", no \u escapes, 1.0 stays 1.0.
const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
    | JSON_THROW_ON_ERROR;

function usage(string $why): void
{
    fwrite(STDERR, "producer.php: $why\nusage: producer.php [EVENT [DATA_JSON [ID]]]\n");
    exit(2);
}

function env(string $name, string $default): string
{
    $v = getenv($name);
    return ($v === false || $v === '') ? $default : $v;
}

/**
 * hookd's namespaces: the HOOKD_PREFIX list in its order, or BASE:0 ..
 * BASE:N-1 with HOOKD_SHARDS=N.
 */
function namespaces(string $prefix, string $shards): array
{
    $names = explode(',', $prefix);
    foreach ($names as $name) {
        if (!preg_match(PREFIX_RE, $name)) {
            usage("HOOKD_PREFIX: \"$name\" is not 1..64 bytes of [A-Za-z0-9_.:-]");
        }
    }
    if (count(array_unique($names)) !== count($names)) {
        usage('HOOKD_PREFIX names a namespace twice');
    }
    if ($shards === '') {
        return $names;
    }
    $n = preg_match('/\A[0-9]+\z/', $shards) ? (int) $shards : -1;
    if ($n < 0 || $n > 256) {
        usage('HOOKD_SHARDS must be a number from 0 (off) to 256');
    }
    if ($n === 0) {
        return $names;
    }
    if (count($names) !== 1) {
        usage('HOOKD_SHARDS takes a single HOOKD_PREFIX');
    }
    return array_map(fn (int $i): string => "$names[0]:$i", range(0, $n - 1));
}

/**
 * The namespace of a workspace: ns[h(W) mod n], h(W) the first 4 bytes of
 * SHA-256(W) as a big-endian unsigned integer; no workspace: ns[0].
 */
function pick(array $ns, string $workspace): string
{
    if ($workspace === '') {
        return $ns[0];
    }
    $h = unpack('N', hash('sha256', $workspace, true))[1];
    return $ns[$h % count($ns)];
}

/** Connects phpredis to a redis:// or unix:// URL, with its AUTH and SELECT. */
function connect(string $url): Redis
{
    $u = parse_url($url);
    if ($u === false || !isset($u['scheme'])) {
        usage("HOOKD_REDIS_URL is not a URL: $url");
    }
    $r = new Redis();
    if ($u['scheme'] === 'unix') {
        $r->connect($u['path'] ?? '', 0, 5.0);
        $db = 0;
    } elseif ($u['scheme'] === 'redis') {
        $r->connect($u['host'] ?? '127.0.0.1', $u['port'] ?? 6379, 5.0);
        $db = (int) ltrim($u['path'] ?? '', '/');
    } else {
        usage("HOOKD_REDIS_URL: scheme {$u['scheme']} is not redis or unix");
    }
    $r->setOption(Redis::OPT_READ_TIMEOUT, 10.0);
    if (isset($u['pass'])) {
        $auth = isset($u['user']) && $u['user'] !== ''
            ? [rawurldecode($u['user']), rawurldecode($u['pass'])] : rawurldecode($u['pass']);
        $r->auth($auth);
    }
    if ($db !== 0) {
        $r->select($db);
    }
    return $r;
}

$args = array_slice($argv, 1);
if (count($args) > 3) {
    usage('too many arguments');
}
$event = $args[0] ?? 'person.created';
if (!preg_match(EVENT_RE, $event)) {
    usage("event \"$event\" is not <object>.<action>");
}
$data = ['id' => 'abc12345', 'firstName' => 'Alice', 'lastName' => 'Doe',
         'email' => 'alice@example.com'];
if (count($args) > 1) {
    try {
        // Objects, not associative arrays: an empty {} must stay {} (an
        // empty PHP array would go out as []).
        $data = json_decode($args[1], false, 512, JSON_THROW_ON_ERROR);
    } catch (JsonException $e) {
        usage('DATA_JSON is not JSON: ' . $e->getMessage());
    }
    if (!is_object($data)) {
        usage('DATA_JSON must be a JSON object');
    }
}
$id = $args[2] ?? 'evt_' . bin2hex(random_bytes(16));
if (!preg_match(ID_RE, $id)) {
    usage("id \"$id\" is not 1..128 bytes of [A-Za-z0-9_.:-]");
}
$workspace = env('HOOKD_WORKSPACE', '');
if ($workspace !== '' && !preg_match(ID_RE, $workspace)) {
    usage("HOOKD_WORKSPACE \"$workspace\" is not 1..128 bytes of [A-Za-z0-9_.:-]");
}
$ns = pick(namespaces(env('HOOKD_PREFIX', 'hookd'), env('HOOKD_SHARDS', '')), $workspace);

$fields = [
    'event' => $event,
    'data' => $data,
    // When the change happened; sent as is.
    'timestamp' => (new DateTimeImmutable('now', new DateTimeZone('UTC')))
        ->format('Y-m-d\TH:i:s.v\Z'),
    // The same id on a re-push gives receivers the same webhook-id.
    'id' => $id,
];
if ($workspace !== '') {
    $fields['workspace'] = $workspace; // who sees it, and its namespace
}
$envelope = json_encode($fields, JSON_FLAGS);

try {
    $redis = connect(env('HOOKD_REDIS_URL', 'redis://127.0.0.1:6379/0'));
    $redis->lPush('{' . $ns . '}:events', $envelope);
    $redis->close();
} catch (RedisException $e) {
    fwrite(STDERR, 'producer.php: redis: ' . $e->getMessage() . "\n");
    exit(1);
}
echo json_encode(['pushed' => 1, 'id' => $id, 'namespace' => $ns], JSON_FLAGS), "\n";
