/* live_limits: walks its open descriptor count up and down under a lowered RLIMIT_NOFILE, for
 * the threshold and EMFILE reports (tests/check_live.py limits; the checker sets the limit
 * before exec so fdleak sees it from the start).
 *
 * usage: victim-live_limits COMMAND...
 *   nofile=N    RLIMIT_NOFILE's soft limit must be N; a bare run (no checker) sets it here
 *   at=N        from now on, when the open count (its descriptors and 0, 1, 2) first reaches
 *               N, print `mark atN open=N` (a threshold report must list exactly that)
 *   up=N        open files (fill_fd) until the count is N
 *   down=N      close the newest until the count is N
 *   drop=K      close the K newest
 *   wiggle=N:K  (up to N-1 first if below) K times: down to N-1, up to N again (re-crossing
 *               must not report again)
 *   fill=R      open files until open() fails; it must return -1 with errno EMFILE. The first
 *               fill prints `mark emfile open=N` and looks for the report (the R-th of this
 *               process) with stat(2), which needs no descriptor: `report-at-fail PATH
 *               EXISTS SIZE`; the k-th later fill prints `mark emfile-again<k> open=N`.
 *               fdleak may free a descriptor it kept in reserve for the report, so one more
 *               fill may be needed before no slot is free
 *   failall     with no descriptor free: pipe, socket, dup and open all fail with EMFILE (and
 *               no second emfile report follows)
 *   sock        open a socket (leak_socket) -- needs a free slot
 *   pipe        make a pipe (leak_pipe): two descriptors in one call, so the count can step
 *               over a threshold; the report must show both ends as the program's
 * The count starts at 3: the checker passes only 0, 1 and 2. */
#include "victim.h"

#include <sys/resource.h>
#include <sys/socket.h>

#define MAX_MARKS 16

static char *path;
static int held[65536];
static int nheld;
static int marks[MAX_MARKS], marked[MAX_MARKS], nmarks;
static int fills;

static int count(void)
{
    return 3 + nheld;
}

static void check_marks(void)
{
    for (int i = 0; i < nmarks; i++)
        if (!marked[i] && count() >= marks[i]) {
            char name[32];
            snprintf(name, sizeof name, "at%d", marks[i]);
            marked[i] = 1;
            v_mark(name, count());
        }
}

/* One open; returns the fd or -1 with errno as open() left it. */
VICTIM_FN int fill_fd(void)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0)
        V_LEAK(fd, "file", "limits.dat", "open", 0);
    return fd;
}

VICTIM_FN void leak_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "udp", "socket", 0);
    V_CHECK(nheld < (int)(sizeof held / sizeof *held));
    held[nheld++] = fd;
    check_marks();
}

VICTIM_FN void leak_pipe(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
    V_CHECK(nheld + 2 <= (int)(sizeof held / sizeof *held));
    held[nheld++] = p[0];
    held[nheld++] = p[1];
    check_marks();
}

static void up(int n)
{
    while (count() < n) {
        int fd = fill_fd();
        V_CHECK(fd >= 0);
        V_CHECK(nheld < (int)(sizeof held / sizeof *held));
        held[nheld++] = fd;
        check_marks();
    }
}

static void down(int n)
{
    while (count() > n && nheld > 0) {
        int fd = held[--nheld];
        V_CHECK(close(fd) == 0);
        v_unleak(fd);
    }
    V_CHECK(count() == n);
}

/* The report file this process's r-th report goes to, from FDLEAK_OUTPUT (%p, %n, %%; without
 * %n the 2nd, 3rd... get .2, .3 before the extension). */
static int report_path(int r, char *out, size_t size)
{
    const char *pat = getenv("FDLEAK_OUTPUT");
    if (!pat || !*pat || !strcmp(pat, "-"))
        return -1;
    size_t o = 0;
    int has_n = 0;
    for (const char *p = pat; *p && o + 24 < size; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(out + o, size - o, "%ld", (long)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == 'n') {
            o += (size_t)snprintf(out + o, size - o, "%d", r);
            has_n = 1;
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            out[o++] = '%';
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    if (!has_n && r > 1) {
        char *slash = strrchr(out, '/');
        char *dot = strrchr(slash ? slash : out, '.');
        char ext[256] = "";
        if (dot && dot != (slash ? slash + 1 : out)) {
            snprintf(ext, sizeof ext, "%s", dot);
            *dot = '\0';
        }
        size_t len = strlen(out);
        snprintf(out + len, size - len, ".%d%s", r, ext);
    }
    return 0;
}

static void fill(int r)
{
    int limit = 1 << 16;
    for (int i = 0; i < limit; i++) {
        errno = 0;
        int fd = fill_fd();
        int e = errno;
        if (fd >= 0) {
            V_CHECK(nheld < (int)(sizeof held / sizeof *held));
            held[nheld++] = fd;
            check_marks();
            continue;
        }
        if (fd != -1 || e != EMFILE) {
            v_fail("open() at %d descriptors returned %d errno %d (%s), expected -1 EMFILE",
                   count(), fd, e, strerror(e));
            return;
        }
        if (fills++ == 0) {
            char p[4096];
            struct stat st;
            if (report_path(r, p, sizeof p) == 0) {
                int ok = stat(p, &st) == 0;
                v_say("report-at-fail %s %d %lld", p, ok, ok ? (long long)st.st_size : 0LL);
            }
            v_mark("emfile", count());
        } else {
            char name[32];
            snprintf(name, sizeof name, "emfile-again%d", fills - 1);
            v_mark(name, count());
        }
        return;
    }
    v_fail("open() never failed in %d calls", limit);
}

/* Every creating call fails with EMFILE while no slot is free. */
static void failall(void)
{
    int p[2];
    errno = 0;
    int r = pipe(p);
    if (r != -1 || errno != EMFILE)
        v_fail("pipe() with no free slot: %d errno %d, expected -1 EMFILE", r, errno);
    errno = 0;
    r = socket(AF_INET, SOCK_STREAM, 0);
    if (r != -1 || errno != EMFILE)
        v_fail("socket() with no free slot: %d errno %d, expected -1 EMFILE", r, errno);
    errno = 0;
    r = dup(0);
    if (r != -1 || errno != EMFILE)
        v_fail("dup(0) with no free slot: %d errno %d, expected -1 EMFILE", r, errno);
    errno = 0;
    r = open(path, O_RDONLY);
    if (r != -1 || errno != EMFILE)
        v_fail("open() with no free slot: %d errno %d, expected -1 EMFILE", r, errno);
}

int main(int argc, char **argv)
{
    v_begin();
    path = v_make_file("limits.dat");
    struct rlimit rl;
    V_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int n, k;
        if (sscanf(a, "nofile=%d", &n) == 1) {
            V_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
            if (rl.rlim_cur != (rlim_t)n) {
                V_CHECK(!v_preloaded()); /* under fdleak the checker sets it before exec */
                rl.rlim_cur = (rlim_t)n;
                V_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
            }
        } else if (sscanf(a, "at=%d", &n) == 1) {
            V_CHECK(nmarks < MAX_MARKS);
            marks[nmarks++] = n;
        } else if (sscanf(a, "up=%d", &n) == 1) {
            up(n);
        } else if (sscanf(a, "down=%d", &n) == 1) {
            down(n);
        } else if (sscanf(a, "drop=%d", &n) == 1) {
            V_CHECK(n <= nheld);
            down(count() - n);
        } else if (sscanf(a, "wiggle=%d:%d", &n, &k) == 2) {
            if (count() < n - 1)
                up(n - 1);
            for (int j = 0; j < k && j < 10000; j++) {
                down(n - 1);
                up(n);
            }
        } else if (sscanf(a, "fill=%d", &n) == 1) {
            fill(n);
        } else if (!strcmp(a, "failall")) {
            failall();
        } else if (!strcmp(a, "pipe")) {
            leak_pipe();
        } else if (!strcmp(a, "sock")) {
            leak_socket();
        } else {
            fprintf(stderr, "victim: unknown command %s\n", a);
            return 2;
        }
    }
    return v_finish();
}
