/* gen.c - the benchmark's producer for hookd: envelopes onto a Redis list.
 *
 * Every event is {"event":"person.created","data":{"n":I,"t":T,"pad":"x.."},
 * "timestamp":"2025-02-10T15:30:50.000Z"}, where I counts from --first, T is
 * the enqueue time in microseconds since the epoch, and pad is sized so that
 * the body hookd delivers ({"event":..,"data":..,"timestamp":..}) is exactly
 * --size bytes.
 *
 *   bench_gen fill --port P --key K --n N --size B [--first I]
 *       LPUSHes N envelopes, 1000 per command, pipelined.
 *   bench_gen pace --port P --key K --rate R --seconds S --size B
 *       LPUSHes R events a second for S seconds, each stamped when pushed
 *       (a tick every 500 us pushes what is due); prints what it pushed.
 *   bench_gen body --size B [--n I]
 *       prints the delivered body alone (for wrk), with t = now. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define EVENT_PREFIX "{\"event\":\"person.created\",\"data\":"
#define EVENT_SUFFIX ",\"timestamp\":\"2025-02-10T15:30:50.000Z\"}"
#define MAX_SIZE (1u << 20)
#define PER_CMD 1000

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_gen: %s\n", what);
    exit(2);
}

/* Writes the event for (n, t) into buf (size + 1 bytes) so that the body
 * hookd builds from it is size bytes; returns the envelope's length. */
static size_t make_event(char *buf, uint64_t n, int64_t t, size_t size)
{
    int head = snprintf(buf, size + 1,
                        EVENT_PREFIX "{\"n\":%" PRIu64 ",\"t\":%" PRId64 ",\"pad\":\"", n, t);
    size_t fixed = (size_t)head + 2 + sizeof(EVENT_SUFFIX) - 1; /* "} after the pad */
    if (head < 0 || size < fixed || size > MAX_SIZE)
        die("--size too small for the event (or over 1 MiB)");
    size_t pad = size - fixed;
    memset(buf + head, 'x', pad);
    memcpy(buf + (size_t)head + pad, "\"}" EVENT_SUFFIX, 2 + sizeof(EVENT_SUFFIX));
    return size;
}

static redisContext *connect_redis(const char *host, int port)
{
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        fprintf(stderr, "bench_gen: redis %s:%d: %s\n", host, port, c ? c->errstr : "oom");
        exit(1);
    }
    return c;
}

static void check_reply(redisContext *c)
{
    redisReply *r;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) {
        fprintf(stderr, "bench_gen: redis: %s\n", c->errstr);
        exit(1);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "bench_gen: redis: %s\n", r->str);
        exit(1);
    }
    freeReplyObject(r);
}

/* Appends one LPUSH of events [first, first + count) to the output buffer. */
static void append_lpush(redisContext *c, const char *key, uint64_t first, size_t count,
                         size_t size, char *bufs, const char **argv, size_t *lens)
{
    argv[0] = "LPUSH";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    int64_t t = wall_us();
    for (size_t i = 0; i < count; i++) {
        char *b = bufs + i * (size + 1);
        lens[i + 2] = make_event(b, first + i, t, size);
        argv[i + 2] = b;
    }
    if (redisAppendCommandArgv(c, (int)count + 2, argv, lens) != REDIS_OK)
        die("out of memory");
}

static uint64_t arg_u64(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "bench_gen: bad %s '%s'\n", name, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: bench_gen fill|pace|body [options] (see gen.c)");
    const char *mode = argv[1], *host = "127.0.0.1", *key = NULL;
    uint64_t port = 6379, n = 0, size = 237, first = 0, rate = 0, seconds = 0;
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("an option needs a value");
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = arg_u64(v, a);
        else if (!strcmp(a, "--key"))
            key = v;
        else if (!strcmp(a, "--n"))
            n = arg_u64(v, a);
        else if (!strcmp(a, "--size"))
            size = arg_u64(v, a);
        else if (!strcmp(a, "--first"))
            first = arg_u64(v, a);
        else if (!strcmp(a, "--rate"))
            rate = arg_u64(v, a);
        else if (!strcmp(a, "--seconds"))
            seconds = arg_u64(v, a);
        else
            die("unknown option");
    }
    if (port == 0 || port > 65535 || size > MAX_SIZE || n > 100000000 || rate > 1000000 ||
        seconds > 3600)
        die("option out of range");

    if (!strcmp(mode, "body")) {
        char *buf = malloc(size + 1);
        if (!buf)
            die("out of memory");
        make_event(buf, n, wall_us(), size);
        fwrite(buf, 1, size, stdout);
        free(buf);
        return 0;
    }
    if (!key)
        die("--key is required");

    size_t per = size > 64 * 1024 ? 10 : PER_CMD;
    char *bufs = malloc(per * (size + 1));
    const char **av = malloc((per + 2) * sizeof(*av));
    size_t *lens = malloc((per + 2) * sizeof(*lens));
    if (!bufs || !av || !lens)
        die("out of memory");
    redisContext *c = connect_redis(host, (int)port);

    if (!strcmp(mode, "fill")) {
        size_t pending = 0;
        for (uint64_t done = 0; done < n;) {
            size_t k = n - done < per ? (size_t)(n - done) : per;
            append_lpush(c, key, first + done, k, size, bufs, av, lens);
            done += k;
            if (++pending == 16) {
                for (; pending; pending--)
                    check_reply(c);
            }
        }
        for (; pending; pending--)
            check_reply(c);
        printf("%" PRIu64 "\n", n);
    } else if (!strcmp(mode, "pace")) {
        if (!rate || !seconds)
            die("pace needs --rate and --seconds");
        uint64_t total = rate * seconds, sent = 0;
        int64_t start = wall_us();
        struct timespec tick = {0, 500 * 1000};
        while (sent < total) {
            int64_t el = wall_us() - start;
            uint64_t due = (uint64_t)((double)el * (double)rate / 1e6);
            if (due > total)
                due = total;
            if (due > sent) {
                size_t k = due - sent > per ? per : (size_t)(due - sent);
                append_lpush(c, key, first + sent, k, size, bufs, av, lens);
                check_reply(c);
                sent += k;
                continue;
            }
            nanosleep(&tick, NULL);
        }
        printf("%" PRIu64 "\n", sent);
    } else {
        die("mode must be fill, pace or body");
    }
    redisFree(c);
    free(bufs);
    free(av);
    free(lens);
    return 0;
}
