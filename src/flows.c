/* flows.c — the (site, endpoint) connection table (see flows.h). */
#include "flows.h"
#include "diag.h"
#include "util.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

static struct fdl_flow *_Atomic slots[FDL_FLOWS_CAP];
static _Atomic unsigned n_flows;
static int warned_full;

/* The address without what differs between two connections to one peer (sin_zero, IPv6 flow
 * labels, the unused tail of a unix path). Returns its length; 0 for no usable address. */
static unsigned canonical(const struct sockaddr *addr, socklen_t len, uint8_t *out)
{
    memset(out, 0, FDL_ENDPOINT_MAX);
    if (!addr || len < sizeof(sa_family_t))
        return 0;
    /* An aligned copy: the address may sit anywhere in a descriptor's record. */
    struct sockaddr_storage ss;
    if (len > sizeof ss)
        len = sizeof ss;
    memcpy(&ss, addr, len);
    const struct sockaddr *a = (const void *)&ss;
    if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)a;
        struct sockaddr_in c = {.sin_family = AF_INET, .sin_port = in->sin_port, .sin_addr = in->sin_addr};
        memcpy(out, &c, sizeof c);
        return sizeof c;
    }
    if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)a;
        struct sockaddr_in6 c = {.sin6_family = AF_INET6, .sin6_port = in6->sin6_port, .sin6_addr = in6->sin6_addr,
                                 .sin6_scope_id = in6->sin6_scope_id};
        memcpy(out, &c, sizeof c);
        return sizeof c;
    }
    if (a->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *un = (const void *)a;
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (un->sun_path[0]) /* a filesystem path ends at its NUL; an abstract name has none */
            n = strnlen(un->sun_path, n);
        if (n > FDL_ENDPOINT_MAX - offsetof(struct sockaddr_un, sun_path))
            n = FDL_ENDPOINT_MAX - offsetof(struct sockaddr_un, sun_path);
        memcpy(out, a, offsetof(struct sockaddr_un, sun_path) + n);
        return (unsigned)(offsetof(struct sockaddr_un, sun_path) + n);
    }
    return 0;
}

struct flow_key {
    struct fdl_site *site;
    unsigned kind, len;
    const uint8_t *endpoint;
};

static uint64_t hash_key(const struct flow_key *k)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uintptr_t)k->site ^ ((uint64_t)k->kind << 56);
    for (unsigned i = 0; i < k->len; i++) {
        h ^= k->endpoint[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 31);
}

static bool same_flow(const void *entry, const void *key)
{
    const struct fdl_flow *f = entry;
    const struct flow_key *k = key;
    return f->site == k->site && f->kind == k->kind && f->len == k->len && !memcmp(f->endpoint, k->endpoint, k->len);
}

static void *make_flow(const void *key)
{
    const struct flow_key *k = key;
    struct fdl_flow *f = fdl_arena_alloc(sizeof *f);
    if (f) {
        f->site = k->site;
        f->kind = (uint8_t)k->kind;
        f->len = (uint8_t)k->len;
        memcpy(f->endpoint, k->endpoint, k->len);
    }
    return f;
}

uint32_t fdl_flow_handle(struct fdl_site *site, unsigned kind, const struct sockaddr *a, socklen_t len)
{
    uint8_t ep[FDL_ENDPOINT_MAX];
    struct flow_key k = {site, kind, canonical(a, len, ep), ep};
    if (!site || !k.len)
        return 0;
    unsigned at;
    if (!fdl_intern((void *_Atomic *)slots, FDL_FLOWS_CAP, &n_flows, hash_key(&k), same_flow, make_flow, &k, &at)) {
        fdl_warn_once(&warned_full, "too many distinct (site, peer) pairs; further connections are not counted per peer");
        return 0;
    }
    return at + 1; /* the handle is the flow's slot: 4 bytes in the descriptor's record */
}

struct fdl_flow *fdl_flow_at(uint32_t handle)
{
    return handle && handle <= FDL_FLOWS_CAP ? __atomic_load_n(&slots[handle - 1], __ATOMIC_ACQUIRE) : 0;
}

void fdl_flows_foreach(void (*fn)(struct fdl_flow *, void *), void *arg)
{
    for (unsigned i = 0; i < FDL_FLOWS_CAP; i++) {
        struct fdl_flow *f = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (f)
            fn(f, arg);
    }
}
