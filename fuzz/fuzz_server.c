/* fuzz_server.c - the server's route matcher and its address parser.
 *
 * Input: line 1 is a method, line 2 a path, line 3 an address. The path is
 * matched against a fixed table with {name} and "/..." rows. Invariants:
 * the answer is 200, 404 or 405; on 200 a row is found whose method is the
 * method (HEAD as GET) and every param is a non-empty slice of the path
 * without '/'; on 405 the allow mask is not empty. An address that splits
 * has a port from 1 to 65535 (0 with allow_zero) and a non-empty host. */
#include "fuzz_common.h"
#include "hookd/net.h"
#include "hookd/server.h"

static int noop(void *arg, const struct hookd_request *req, struct hookd_response *res)
{
    (void)arg, (void)req, (void)res;
    return 0;
}

static const struct hookd_route routes[] = {
    {"GET", "/v1/webhooks", noop, NULL, 1},
    {"POST", "/v1/webhooks", noop, NULL, 1},
    {"GET", "/v1/webhooks/{id}", noop, NULL, 1},
    {"DELETE", "/v1/webhooks/{id}", noop, NULL, 1},
    {"POST", "/v1/webhooks/{id}/{verb}", noop, NULL, 1},
    {"GET", "/console/...", noop, NULL, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_part part[3];
    size_t np = fuzz_split(data, size, part, 3);
    char method[16], path[1024], addr[HOOKD_NET_ADDR_MAX + 8], host[HOOKD_NET_ADDR_MAX + 1];
    char err[HOOKD_ERRLEN];
    if (np < 3 || part[0].n >= sizeof(method) || part[1].n >= sizeof(path) ||
        part[2].n >= sizeof(addr))
        return 0;
    memcpy(method, part[0].p, part[0].n), method[part[0].n] = 0;
    memcpy(path, part[1].p, part[1].n), path[part[1].n] = 0;
    memcpy(addr, part[2].p, part[2].n), addr[part[2].n] = 0;
    if (strlen(method) != part[0].n || strlen(path) != part[1].n || strlen(addr) != part[2].n)
        return 0;

    size_t off[HOOKD_SERVER_PARAMS_MAX], len[HOOKD_SERVER_PARAMS_MAX], n = 0;
    const struct hookd_route *found = NULL;
    unsigned allow = 0;
    int st = hookd_server_match(routes, sizeof(routes) / sizeof(routes[0]), method, path, off, len,
                                &n, &found, &allow);
    FUZZ_CHECK(st == 200 || st == 404 || st == 405);
    if (st == 200) {
        FUZZ_CHECK(found != NULL);
        FUZZ_CHECK(strcmp(found->method, method) == 0 ||
                   (strcmp(method, "HEAD") == 0 && strcmp(found->method, "GET") == 0));
        FUZZ_CHECK(n <= HOOKD_SERVER_PARAMS_MAX);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(len[i] > 0 && off[i] + len[i] <= part[1].n);
            FUZZ_CHECK(memchr(path + off[i], '/', len[i]) == NULL);
        }
    }
    if (st == 405)
        FUZZ_CHECK(allow != 0);

    int port = -1;
    for (int zero = 0; zero < 2; zero++) {
        if (hookd_net_addr_split(addr, zero, host, sizeof(host), &port, err) == 0) {
            FUZZ_CHECK(host[0] != 0);
            FUZZ_CHECK(port >= (zero ? 0 : 1) && port <= 65535);
        }
    }
    return 0;
}
