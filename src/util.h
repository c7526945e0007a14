/* util.h — small async-signal-safe helpers: a buffered writer over memory or a descriptor,
 * number formatting, raw I/O. No malloc, no stdio, no locks. */
#ifndef FDL_UTIL_H
#define FDL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdl_buf {
    char *data;
    size_t len, cap;
    int fd;      /* -1: memory only (truncates when full) */
    bool failed; /* a write to fd failed, or memory truncated */
};

void fdl_buf_init_mem(struct fdl_buf *b, char *mem, size_t cap);
void fdl_buf_init_fd(struct fdl_buf *b, int fd, char *mem, size_t cap);
void fdl_buf_putn(struct fdl_buf *b, const char *s, size_t n);
void fdl_buf_puts(struct fdl_buf *b, const char *s);
void fdl_buf_putc(struct fdl_buf *b, char c);
void fdl_buf_u64(struct fdl_buf *b, uint64_t v);
void fdl_buf_i64(struct fdl_buf *b, int64_t v);
void fdl_buf_hex(struct fdl_buf *b, uint64_t v); /* 0x… */
void fdl_buf_fixed(struct fdl_buf *b, double v, int decimals);
void fdl_buf_json_str(struct fdl_buf *b, const char *s); /* "…" escaped, or null for NULL */
bool fdl_buf_flush(struct fdl_buf *b);                    /* true if everything reached fd */
const char *fdl_buf_cstr(struct fdl_buf *b);              /* memory mode: NUL-terminated */
/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0 if it is not one. */
size_t fdl_utf8_len(const unsigned char *p);

/* write(2) until done, retrying EINTR; preserves errno. */
bool fdl_write_all(int fd, const void *p, size_t n);

/* fdleak's own short-lived descriptors (a report's files, addr2line's pipe): opened and closed
 * with raw syscalls and remembered meanwhile, so that a report running at the same time (one
 * nested in a signal handler) does not list them. Async-signal-safe. */
int fdl_own_open(const char *path, int flags, unsigned mode);
int fdl_own_pipe(int p[2]);
/* When one fails with EMFILE or ENFILE it is retried as long as this hook (the reserve,
 * reserve.c) returns true: it made room. */
extern bool (*fdl_own_spare)(void);
void fdl_own_close(int fd);
bool fdl_own_is(int fd);

/* Calls fn for every descriptor open in this process (from /proc/self/fd, through raw
 * syscalls; its own directory descriptor left out). False if /proc is unreadable. */
bool fdl_proc_fds(void (*fn)(int fd, void *arg), void *arg);
/* The same for another directory of descriptors (/proc/PID/fd); all of them are passed. */
bool fdl_proc_fds_in(const char *dir, void (*fn)(int fd, void *arg), void *arg);

uint64_t fdl_now_mono_ns(void);
double fdl_now_real(void);
int fdl_gettid(void); /* cached per thread (fdl_tls.tid, reset in a fork child) */

/* A region: memory from mmap, handed out by bumping a pointer and released all at once.
 * Async-signal-safe (no malloc), so a report can be built in a signal handler, in a vfork
 * child or in _exit. Not thread-safe: one region per report. Memory comes zeroed. */
struct fdl_region {
    struct fdl_region_chunk *head;
};
void *fdl_region_alloc(struct fdl_region *r, size_t size);
char *fdl_region_strdup(struct fdl_region *r, const char *s);
/* A bigger copy (twice the capacity, 64 at first) of an array of n elements held in a region,
 * *cap updated; the old copy stays behind until the region is freed. NULL when out of memory. */
void *fdl_region_grow(struct fdl_region *r, void *old, size_t n, size_t *cap, size_t size);
void fdl_region_free(struct fdl_region *r);

/* In-place heapsort: qsort may call malloc. Async-signal-safe. */
void fdl_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
#endif
