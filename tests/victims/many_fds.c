/* many_fds: raises RLIMIT_NOFILE to the hard limit and opens ~5000 descriptors (well above
 * 1024, across any chunking of fdleak's table), releases half of them one by one and a block
 * with close_range, reuses some freed numbers from another site, dup2s one just below the
 * limit, and leaks the rest: thousands of declared leaks. */
#include "victim.h"

#include <linux/close_range.h>
#include <sys/resource.h>

static char *path;

VICTIM_FN void open_many(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = open(path, O_RDONLY);
        V_CHECK(fds[i] >= 0);
    }
}

VICTIM_FN void leak_reopen_holes(int n)
{
    for (int i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        V_CHECK(fd >= 0);
        V_LEAK(fd, "file", "many.dat", "open", 1);
    }
}

VICTIM_FN void leak_dup_high(int src, int target)
{
    V_CHECK(dup2(src, target) == target);
    V_LEAK(target, "file", "many.dat", "dup2", 0);
}

int main(void)
{
    v_begin();
    path = v_make_file("many.dat");
    struct rlimit rl;
    V_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > 1u << 20)
        rl.rlim_max = 1u << 20;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        V_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0); /* keep what we have */
    int limit = (int)rl.rlim_cur;
    int n = limit - 200 < 5000 ? limit - 200 : 5000;
    V_CHECK(n >= 200);
    fprintf(stderr, "many_fds: limit %d, opening %d\n", limit, n);

    int *fds = calloc((size_t)n, sizeof *fds);
    V_CHECK(fds != NULL);
    open_many(fds, n);
    for (int i = 0; i < n; i += 2)
        V_CHECK(close(fds[i]) == 0);
    int lo = n * 2 / 5, hi = n / 2; /* a block closed in one call, half of it already closed */
    V_CHECK(fds[hi - 1] - fds[lo] == hi - 1 - lo);
    V_CHECK(close_range((unsigned)fds[lo], (unsigned)fds[hi - 1], 0) == 0);
    for (int i = 1; i < n; i += 2)
        if (i < lo || i >= hi)
            v_leak(fds[i], "file", "open_many", "many.dat", NULL, "open", 0, 0);
    leak_reopen_holes(n / 10);
    leak_dup_high(fds[1], limit - 100);
    free(fds);
    return v_finish();
}
