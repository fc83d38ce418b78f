<?php
// Pushes one event onto hookd's queue with phpredis (pecl redis; Debian: php-redis).
//
//   php producer.php [EVENT [DATA_JSON [ID]]]
//   php producer.php person.created '{"id":"1","firstName":"Alice"}'
//
// HOOKD_REDIS_URL (default redis://127.0.0.1:6379/0; also
// redis://user:password@host:port/db and unix:///path/redis.sock) and
// HOOKD_PREFIX (default hookd) name the Redis and the namespace, as for hookd
// itself. Prints {"pushed":1,"id":"evt_..."} like `hookd enqueue`.

declare(strict_types=1);

const EVENT_RE = '/\A[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}\z/';
const ID_RE = '/\A[A-Za-z0-9_.:-]{1,128}\z/';
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

$envelope = json_encode([
    'event' => $event,
    'data' => $data,
    // When the change happened; sent as is.
    'timestamp' => (new DateTimeImmutable('now', new DateTimeZone('UTC')))
        ->format('Y-m-d\TH:i:s.v\Z'),
    // The same id on a re-push gives receivers the same webhook-id.
    'id' => $id,
], JSON_FLAGS);

try {
    $redis = connect(env('HOOKD_REDIS_URL', 'redis://127.0.0.1:6379/0'));
    $redis->lPush('{' . env('HOOKD_PREFIX', 'hookd') . '}:events', $envelope);
    $redis->close();
} catch (RedisException $e) {
    fwrite(STDERR, 'producer.php: redis: ' . $e->getMessage() . "\n");
    exit(1);
}
echo json_encode(['pushed' => 1, 'id' => $id], JSON_FLAGS), "\n";
