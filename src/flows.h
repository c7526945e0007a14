/* flows.h — connections per (creation site, endpoint): how many a site opened to one peer, how
 * many it closed and how long they lived, kept for the findings (pool-per-operation,
 * duplicate-clients). A client's endpoint is its peer; an accepted connection's is the local
 * address it was accepted on (its peers are many ephemeral ports). Lock-free like the site
 * table: safe from any thread, a signal handler, and across fork. */
#ifndef FDL_FLOWS_H
#define FDL_FLOWS_H

#include <stdint.h>
#include <sys/socket.h>

#include "sites.h"

enum fdl_flow_kind {
    FDL_FLOW_CLIENT = 0, /* connect() */
    FDL_FLOW_SERVER = 1, /* accept() */
    FDL_FLOW_DGRAM = 2,  /* or'ed in: a datagram socket (a DNS query is not a connection) */
};

#define FDL_ENDPOINT_MAX 106 /* a sockaddr_un with a path of up to 104 bytes */

struct fdl_flow {
    struct fdl_site *site;
    uint8_t kind, len;             /* enum fdl_flow_kind; endpoint bytes */
    uint8_t endpoint[FDL_ENDPOINT_MAX]; /* canonical sockaddr: family, port, address or path */
    _Atomic uint64_t created, closed;
    _Atomic uint64_t peak;         /* the most open at once (read at each connect) */
    struct fdl_life life;
};

#define FDL_FLOWS_CAP (1u << 14)

/* The flow's handle (1-based, 0 = none) for (site, kind, endpoint), created on first sight.
 * 0 when site is NULL, the endpoint has no address, or the table is full (said once). */
uint32_t fdl_flow_handle(struct fdl_site *site, unsigned kind, const struct sockaddr *a, socklen_t len);
struct fdl_flow *fdl_flow_at(uint32_t handle);

/* Calls fn for every flow (in no particular order). Safe concurrently with interning. */
void fdl_flows_foreach(void (*fn)(struct fdl_flow *, void *), void *arg);

#endif
