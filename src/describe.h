/* describe.h — what a live descriptor is (kind) and points at (desc), for reports. Uses only
 * raw syscalls and non-wrapped libc calls that do not allocate: async-signal-safe. */
#ifndef FDL_DESCRIBE_H
#define FDL_DESCRIBE_H

#include <stdbool.h>

#include "table.h"
#include "util.h"

#include <sys/socket.h>

#define FDL_DESC_MAX 512

struct fdl_fdinfo {
    bool alive;                /* the kernel says fd is open */
    bool stale;                /* fd is not what rec recorded (another kind of object, a socket
                                  with another peer or type): rec's descriptor was closed, and
                                  this one created, where no wrapper saw it */
    bool cloexec;
    const char *kind;          /* file, dir, pipe, fifo, socket, epoll, … (static string) */
    char desc[FDL_DESC_MAX];
};

/* rec (may be NULL) supplies endpoints recorded at connect/accept/bind time, used when the
 * kernel no longer knows them (a broken connection), and is checked against what fd is now
 * (out->stale): its kind against the call that created it, a socket's type and peer port.
 * Nothing is recorded for this at creation (no syscall on the hot path): a number closed and
 * reused unseen by an object of the same kind (and, for a connected socket, the same peer
 * port) passes as the recorded one. procfd: /proc/self/fd opened as a
 * directory by the caller describing many (a report), or -1. */
void fdl_describe(int procfd, int fd, const struct fdl_slot *rec, struct fdl_fdinfo *out);

/* "127.0.0.1:6379", "[::1]:80", "/run/x.sock", "@abstract": nothing for other families. */
void fdl_describe_addr(struct fdl_buf *b, const struct sockaddr *sa, socklen_t len);

#endif
