/* util.c — the async-signal-safe writer and helpers shared by the core and the reports. A leaf:
 * it calls no other module (fdleak's messages are diag.c's). */
#include "util.h"
#include "tls.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void fdl_buf_init_mem(struct fdl_buf *b, char *mem, size_t cap)
{
    b->data = mem;
    b->len = 0;
    b->cap = cap;
    b->fd = -1;
    b->failed = false;
}

void fdl_buf_init_fd(struct fdl_buf *b, int fd, char *mem, size_t cap)
{
    fdl_buf_init_mem(b, mem, cap);
    b->fd = fd;
}

bool fdl_write_all(int fd, const void *p, size_t n)
{
    int saved = errno;
    const char *c = p;
    bool ok = true;
    while (n) {
        ssize_t w = fdl_sys(SYS_write, fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        c += w;
        n -= (size_t)w;
    }
    errno = saved;
    return ok;
}

bool fdl_buf_flush(struct fdl_buf *b)
{
    if (b->fd >= 0 && b->len) {
        if (!fdl_write_all(b->fd, b->data, b->len))
            b->failed = true;
        b->len = 0;
    }
    return !b->failed;
}

void fdl_buf_putn(struct fdl_buf *b, const char *s, size_t n)
{
    while (n) {
        size_t room = b->cap - b->len - (b->fd < 0); /* memory mode keeps a byte for NUL */
        if (!room) {
            if (b->fd < 0) {
                b->failed = true;
                return;
            }
            fdl_buf_flush(b);
            continue;
        }
        size_t k = n < room ? n : room;
        memcpy(b->data + b->len, s, k);
        b->len += k;
        s += k;
        n -= k;
    }
}

void fdl_buf_puts(struct fdl_buf *b, const char *s) { fdl_buf_putn(b, s, strlen(s)); }
void fdl_buf_putc(struct fdl_buf *b, char c) { fdl_buf_putn(b, &c, 1); }

void fdl_buf_u64(struct fdl_buf *b, uint64_t v)
{
    char t[24];
    int i = sizeof t;
    do
        t[--i] = (char)('0' + v % 10);
    while (v /= 10);
    fdl_buf_putn(b, t + i, sizeof t - (size_t)i);
}

void fdl_buf_i64(struct fdl_buf *b, int64_t v)
{
    if (v < 0) {
        fdl_buf_putc(b, '-');
        fdl_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        fdl_buf_u64(b, (uint64_t)v);
    }
}

void fdl_buf_hex(struct fdl_buf *b, uint64_t v)
{
    char t[18];
    int i = sizeof t;
    do
        t[--i] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    t[--i] = 'x';
    t[--i] = '0';
    fdl_buf_putn(b, t + i, sizeof t - (size_t)i);
}

void fdl_buf_fixed(struct fdl_buf *b, double v, int decimals)
{
    if (v != v) { /* NaN never reaches JSON */
        fdl_buf_putc(b, '0');
        return;
    }
    if (v < 0) {
        fdl_buf_putc(b, '-');
        v = -v;
    }
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    if (v > 1e15)
        v = 1e15;
    uint64_t x = (uint64_t)(v * (double)scale + 0.5);
    fdl_buf_u64(b, x / scale);
    if (decimals) {
        fdl_buf_putc(b, '.');
        char t[20];
        uint64_t f = x % scale;
        for (int i = decimals - 1; i >= 0; i--, f /= 10)
            t[i] = (char)('0' + f % 10);
        fdl_buf_putn(b, t, (size_t)decimals);
    }
}

size_t fdl_utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

void fdl_buf_json_str(struct fdl_buf *b, const char *s)
{
    if (!s) {
        fdl_buf_puts(b, "null");
        return;
    }
    fdl_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fdl_buf_putc(b, '\\');
            fdl_buf_putc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char e[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15], 0};
            fdl_buf_puts(b, e);
        } else if (c < 0x80) {
            fdl_buf_putc(b, (char)c);
        } else {
            /* Paths are bytes, JSON is UTF-8: pass well-formed UTF-8 through (no overlong
             * forms, no surrogates, nothing above U+10FFFF), replace the rest. */
            size_t n = fdl_utf8_len(p);
            if (n) {
                fdl_buf_putn(b, (const char *)p, n);
                p += n - 1;
            } else {
                fdl_buf_puts(b, "\\ufffd");
            }
        }
    }
    fdl_buf_putc(b, '"');
}

const char *fdl_buf_cstr(struct fdl_buf *b)
{
    b->data[b->len < b->cap ? b->len : b->cap - 1] = 0;
    return b->data;
}

#define OWN_MAX 32
static _Atomic int own[OWN_MAX]; /* fd + 1; 0 = empty */

static void own_add(int fd)
{
    for (int i = 0; fd >= 0 && i < OWN_MAX; i++) {
        int expect = 0;
        if (__atomic_compare_exchange_n(&own[i], &expect, fd + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
}

bool fdl_own_is(int fd)
{
    for (int i = 0; i < OWN_MAX; i++)
        if (__atomic_load_n(&own[i], __ATOMIC_ACQUIRE) == fd + 1)
            return true;
    return false;
}

bool (*fdl_own_spare)(void);

static bool table_full(long r)
{
    return r < 0 && (errno == EMFILE || errno == ENFILE) && fdl_own_spare && fdl_own_spare();
}

int fdl_own_open(const char *path, int flags, unsigned mode)
{
    int fd;
    do
        fd = (int)fdl_sys(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
    while (table_full(fd));
    own_add(fd);
    return fd;
}

int fdl_own_pipe(int p[2])
{
    long r;
    do
        r = fdl_sys(SYS_pipe2, p, O_CLOEXEC);
    while (table_full(r));
    if (r)
        return -1;
    own_add(p[0]);
    own_add(p[1]);
    return 0;
}

void fdl_own_close(int fd)
{
    for (int i = 0; i < OWN_MAX; i++) {
        int expect = fd + 1;
        if (__atomic_compare_exchange_n(&own[i], &expect, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            break;
    }
    fdl_sys(SYS_close, fd);
}

bool fdl_proc_fds(void (*fn)(int fd, void *arg), void *arg) { return fdl_proc_fds_in("/proc/self/fd", fn, arg); }

bool fdl_proc_fds_in(const char *dir, void (*fn)(int fd, void *arg), void *arg)
{
    int dfd = fdl_own_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0)
        return false;
    bool self = !strcmp(dir, "/proc/self/fd"); /* its own directory descriptor left out */
    char buf[1024] = {0}; /* small: this runs on the program's threads, in signal handlers; zeroed
                             for the analyzer, which cannot see getdents64 (fdl_sys) fill it */
    long n;
    while ((n = fdl_sys(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] < '0' || d->name[0] > '9')
                continue;
            int fd = 0;
            for (const char *p = d->name; *p; p++)
                fd = fd * 10 + (*p - '0');
            if (!self || fd != dfd)
                fn(fd, arg);
        }
    }
    fdl_own_close(dfd);
    return true;
}

uint64_t fdl_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double fdl_now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long fdl_raw_gettid(void) { return fdl_sys(SYS_gettid); }

int fdl_gettid(void)
{
    if (!fdl_tls.tid)
        fdl_tls.tid = (pid_t)fdl_sys(SYS_gettid);
    return fdl_tls.tid;
}

struct fdl_region_chunk {
    struct fdl_region_chunk *next;
    size_t used, cap;
    char data[] __attribute__((aligned(64))); /* table slots are cache-line aligned */
};

void *fdl_region_alloc(struct fdl_region *r, size_t size)
{
    size = (size + 63) & ~(size_t)63;
    struct fdl_region_chunk *c = r->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size + sizeof *c > (1u << 20) ? size + sizeof *c : (1u << 20);
        void *m = mmap(0, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 0;
        c = m;
        c->cap = cap - sizeof *c;
        c->used = 0;
        c->next = r->head;
        r->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

void *fdl_region_grow(struct fdl_region *r, void *old, size_t n, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = fdl_region_alloc(r, ncap * size);
    if (!p)
        return 0;
    if (old)
        memcpy(p, old, n * size);
    *cap = ncap;
    return p;
}

char *fdl_region_strdup(struct fdl_region *r, const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s) + 1;
    char *d = fdl_region_alloc(r, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void fdl_region_free(struct fdl_region *r)
{
    while (r->head) {
        struct fdl_region_chunk *c = r->head;
        r->head = c->next;
        munmap(c, c->cap + sizeof *c);
    }
}

static void swap_bytes(char *a, char *b, size_t n)
{
    while (n--) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

static void sift(char *base, size_t root, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
        root = child;
    }
}

void fdl_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char *b = base;
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift(b, i, n, size, cmp);
    for (size_t end = n - 1; end > 0; end--) {
        swap_bytes(b, b + end * size, size);
        sift(b, 0, end, size, cmp);
    }
}
