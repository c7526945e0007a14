/* table.h — the descriptor table: one slot per fd number, in chunks mapped on first use.
 * Readers never block: each slot carries a sequence count (odd while being written) and its
 * open/free state is changed with atomic exchanges, so a close racing a report, a signal
 * handler re-entering on the same thread, or two threads closing one number stay consistent. */
#ifndef FDL_TABLE_H
#define FDL_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct fdl_site;

enum fdl_slot_state {
    FDL_SLOT_FREE = 0,
    FDL_SLOT_OPEN = 1,     /* the program's descriptor */
    FDL_SLOT_INTERNAL = 2, /* fdleak's own (libunwind's pipe): hidden, protected */
};

enum fdl_slot_flag {
    FDL_F_INHERITED = 1 << 0, /* open before fdleak started (or received from the parent) */
    FDL_F_FORKED = 1 << 1,    /* created by the parent before fork(); site is the parent's */
    FDL_F_NESTED = 1 << 2,    /* created while this thread was inside fdleak (signal handler) */
    FDL_F_STREAM = 1 << 3,    /* owned by a FILE* */
    FDL_F_DIR = 1 << 4,       /* owned by a DIR* */
    FDL_F_LISTEN = 1 << 5,    /* listen() succeeded on it */
    FDL_F_LATE = 1 << 6,      /* created after CPython began to finalize (by a daemon thread
                                 about to be stopped): not open when the program ended */
    FDL_F_DGRAM = 1 << 7,     /* a datagram socket */
};

#define FDL_ADDR_LOCAL_MAX 32
#define FDL_ADDR_PEER_MAX 106 /* a sockaddr_un with a path of up to 104 bytes */

struct fdl_slot {
    _Atomic uint32_t seq;   /* odd while a writer is filling the fields below */
    _Atomic uint32_t state; /* enum fdl_slot_state */
    uint32_t flags;         /* enum fdl_slot_flag */
    int32_t tid;
    const char *via;        /* name of the wrapped call that created it (static string) */
    struct fdl_site *site;  /* NULL when unknown */
    uint64_t created_ns;    /* CLOCK_MONOTONIC */
    struct fdl_site *closed_by; /* stack of the close that freed the slot (double-close reports) */
    uint8_t local_len, peer_len;
    uint8_t local[FDL_ADDR_LOCAL_MAX]; /* bind() address when it fits */
    uint8_t peer[FDL_ADDR_PEER_MAX];   /* connect()/accept() peer, kept after the link breaks */
    uint32_t flow;          /* its (site, endpoint) flow handle (flows.h), 0 = none */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct fdl_slot) == 192, "a descriptor's record grew: memory per descriptor");

#define FDL_CHUNK_BITS 10
#define FDL_CHUNK_SLOTS (1u << FDL_CHUNK_BITS)
#define FDL_DIR_SIZE (1u << 14)
#define FDL_FD_LIMIT (FDL_CHUNK_SLOTS * FDL_DIR_SIZE) /* 16 Mi descriptors */

/* The slot for fd, mapping its chunk when create is true. NULL for fd < 0, fd >= FDL_FD_LIMIT,
 * an unmapped chunk (create false) or mmap failure (said once). Lock-free and
 * async-signal-safe (mmap is a syscall); fork-safe (the table is plain memory). */
struct fdl_slot *fdl_table_slot(int fd, bool create);

/* Highest fd number whose chunk is mapped, plus one (an upper bound for scans). */
int fdl_table_bound(void);

/* Scanning: the slot of the first fd >= *fd (and <= hi) whose chunk is mapped, with *fd set to
 * it; NULL when there is none. Use as
 *     for (int fd = lo; (s = fdl_table_next(&fd, hi)); fd++)
 * Lock-free and async-signal-safe. */
struct fdl_slot *fdl_table_next(int *fd, int hi);

/* Writer side of the sequence count. */
static inline void fdl_slot_write_begin(struct fdl_slot *s)
{
    __atomic_fetch_add(&s->seq, 1, __ATOMIC_ACQ_REL);
}
static inline void fdl_slot_write_end(struct fdl_slot *s)
{
    __atomic_fetch_add(&s->seq, 1, __ATOMIC_RELEASE);
}

/* Copies a consistent snapshot of the slot into *out. False if the slot kept changing (a few
 * retries, never a spin: safe in a signal handler that interrupted the writer). */
bool fdl_slot_read(const struct fdl_slot *s, struct fdl_slot *out);

#endif
